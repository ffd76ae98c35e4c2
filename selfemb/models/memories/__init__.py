from .base_memory import BaseMemory
from .key_queue import KeyQueue
from .neighbour_positive_memory import NeighbourPositiveMemory
from .neighbourhood_memory import NeighbourhoodMemory
from .odc_memory import ODCMemory
from .pseudo_label_memory import PseudoLabelMemory
from .simple_memory import SimpleMemory

__all__ = ['BaseMemory', 'SimpleMemory', 'NeighbourhoodMemory', 'ODCMemory', 'KeyQueue',
           'PseudoLabelMemory', 'NeighbourPositiveMemory']
