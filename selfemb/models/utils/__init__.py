from .distributed import all_gather_cat, all_reduce_mean
from .kmeans import global_batch_kmeans, spherical_kmeans
from .neighbourhood import (entropy_and_neighbours, neighbourhood_consistency, num_anchors,
                            select_anchors)
from .samples import sample_indices
from .sobel import SobelFilter, sobel_filter

__all__ = ['all_gather_cat', 'all_reduce_mean', 'sample_indices', 'SobelFilter', 'sobel_filter',
           'entropy_and_neighbours', 'num_anchors', 'select_anchors',
           'neighbourhood_consistency', 'spherical_kmeans', 'global_batch_kmeans']
