from .base import EmbeddingAlgorithm
from .isif import ISIF
from .npid import NPID

__all__ = ['EmbeddingAlgorithm', 'ISIF', 'NPID']
