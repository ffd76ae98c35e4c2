from .base_memory import BaseMemory
from .neighbourhood_memory import NeighbourhoodMemory
from .pseudo_label_memory import PseudoLabelMemory
from .simple_memory import SimpleMemory

__all__ = ['BaseMemory', 'SimpleMemory', 'NeighbourhoodMemory', 'PseudoLabelMemory']
