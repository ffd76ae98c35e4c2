from .and_algorithm import AND
from .base import EmbeddingAlgorithm
from .cld import CLD
from .cldm import CLDm
from .interclr import InterCLR
from .isif import ISIF
from .npid import NPID
from .super_and import SuperAND
from .uic import UIC

__all__ = ['AND', 'EmbeddingAlgorithm', 'ISIF', 'NPID', 'SuperAND', 'InterCLR', 'UIC', 'CLD',
           'CLDm']
