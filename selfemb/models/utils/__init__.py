from .distributed import (
    all_gather_cat,
    all_reduce_mean,
    all_reduce_sum,
    batch_shuffle,
    batch_unshuffle,
)
from .ema import MomentumEncoder
from .kmeans import centroids_from_labels, global_batch_kmeans, spherical_kmeans
from .neighbourhood import (
    entropy_and_neighbours,
    nearest_neighbours,
    neighbourhood_consistency,
    num_anchors,
    select_anchors,
    softmax_entropy,
)
from .pseudo_labels import class_statistics, random_labels, split_empty_classes
from .samples import sample_indices
from .sobel import SobelFilter, sobel_filter
from .strict_pretrained import StrictPretrained

__all__ = ['StrictPretrained', 'all_gather_cat', 'all_reduce_mean', 'all_reduce_sum',
           'batch_shuffle', 'batch_unshuffle', 'sample_indices',
           'SobelFilter', 'sobel_filter', 'entropy_and_neighbours', 'softmax_entropy',
           'nearest_neighbours', 'num_anchors', 'select_anchors', 'neighbourhood_consistency',
           'class_statistics', 'random_labels', 'split_empty_classes', 'spherical_kmeans',
           'global_batch_kmeans', 'centroids_from_labels', 'MomentumEncoder']
