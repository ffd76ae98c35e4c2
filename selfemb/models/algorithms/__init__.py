from .and_algorithm import AND
from .base import EmbeddingAlgorithm
from .cld import CLD
from .cldm import CLDm
from .isif import ISIF
from .npid import NPID
from .super_and import SuperAND

__all__ = ['AND', 'CLD', 'CLDm', 'EmbeddingAlgorithm', 'ISIF', 'NPID', 'SuperAND']
