from .base_memory import BaseMemory
from .simple_memory import SimpleMemory

__all__ = ['BaseMemory', 'SimpleMemory']
