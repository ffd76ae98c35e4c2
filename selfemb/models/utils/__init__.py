from .distributed import all_gather_cat, all_reduce_mean
from .neighbourhood import (entropy_and_neighbours, neighbourhood_consistency, num_anchors,
                            select_anchors)
from .pseudo_labels import class_statistics, random_labels, split_empty_classes
from .samples import sample_indices
from .sobel import SobelFilter, sobel_filter

__all__ = ['all_gather_cat', 'all_reduce_mean', 'sample_indices', 'SobelFilter', 'sobel_filter',
           'entropy_and_neighbours', 'num_anchors', 'select_anchors',
           'neighbourhood_consistency', 'class_statistics', 'random_labels',
           'split_empty_classes']
