from .distributed import all_gather_cat, all_reduce_mean
from .samples import sample_indices

__all__ = ['all_gather_cat', 'all_reduce_mean', 'sample_indices']
