"""Long-tailed subsets of labelled data sources (CIFAR-10-LT style, Cao et al. 2019).

Class ``c`` of ``C`` keeps ``n_c = int(n_max · ratio^(-c / (C - 1)))`` samples: the head
class ``0`` keeps ``n_max``, the tail class ``C - 1`` keeps ``n_max / ratio`` (ratio 100
on CIFAR-10 with ``n_max`` 5000 gives 5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50).
The kept samples are the first ``n_c`` of each class in the source's index order, so the
subset is the same on every rank and every run (no random state to resume).
"""
from typing import Any, List, Optional, Union

import numpy as np

from selfemb.registry import DATASETS


def long_tail_counts(num_classes: int, max_per_class: int, imbalance_ratio: float) -> List[int]:
    """``[int(n_max · ratio^(-c / (C - 1))) for c in range(C)]`` (see the module doc)."""
    if num_classes < 2:
        raise ValueError(f'a long tail needs at least 2 classes, got {num_classes}')
    if imbalance_ratio < 1:
        raise ValueError(f'imbalance_ratio must be >= 1 (head / tail size), got '
                         f'{imbalance_ratio}')
    counts = [int(max_per_class * (1.0 / imbalance_ratio) ** (c / (num_classes - 1)))
              for c in range(num_classes)]
    if min(counts) < 1:
        raise ValueError(f'imbalance_ratio={imbalance_ratio} with max_per_class='
                         f'{max_per_class} leaves a class empty: {counts}')
    return counts


def long_tail_indices(labels: np.ndarray, imbalance_ratio: float,
                      num_classes: Optional[int] = None,
                      max_per_class: Optional[int] = None) -> np.ndarray:
    """Sorted indices of the first ``n_c`` samples of each class ``c`` in ``labels``.

    ``num_classes`` defaults to ``max(labels) + 1``; ``max_per_class`` to the size of
    class 0. A class with fewer samples than its ``n_c`` is an error that names it.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size == 0 or labels.min() < 0:
        raise ValueError('LongTailDataset needs a labelled source (every gt_label >= 0)')
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    available = np.bincount(labels, minlength=num_classes)
    if len(available) > num_classes:
        raise ValueError(f'labels go up to {labels.max()} but num_classes={num_classes}')
    n_max = int(available[0]) if max_per_class is None else max_per_class
    counts = long_tail_counts(num_classes, n_max, imbalance_ratio)
    short = [c for c in range(num_classes) if available[c] < counts[c]]
    if short:
        raise ValueError(f'LongTailDataset: classes {short} have {available[short].tolist()} '
                         f'samples, fewer than the {[counts[c] for c in short]} required; '
                         'lower max_per_class')
    keep = [np.flatnonzero(labels == c)[:counts[c]] for c in range(num_classes)]
    return np.sort(np.concatenate(keep))


@DATASETS.register_module()
def LongTailDataset(dataset: Union[dict, Any], imbalance_ratio: float = 100.0,
                    num_classes: Optional[int] = None,
                    max_per_class: Optional[int] = None) -> Any:
    """Build ``dataset`` and keep only its long-tailed subset (see the module doc).

    Returns the source itself, subset in place with mmengine's ``get_subset_`` — so
    ``sample_idx`` runs over the subset, ``len`` is the subset's (memories are sized from
    it), and ``get_gt_labels()`` / ``get_images()`` (the device data path) keep working.

    Args:
        dataset: A labelled data source (``get_gt_labels()``) or its config.
        imbalance_ratio: ``n_max / n_min`` (100 and 10 are the usual CIFAR-LT settings).
        num_classes: C; defaults to ``max(label) + 1``.
        max_per_class: n_max; defaults to the size of class 0.
    """
    if isinstance(dataset, dict):
        dataset = DATASETS.build(dataset)
    if not callable(getattr(dataset, 'get_gt_labels', None)) or not callable(
            getattr(dataset, 'get_subset_', None)):
        raise TypeError(f'LongTailDataset needs a data source with get_gt_labels() and '
                        f'get_subset_(); {type(dataset).__name__} lacks them')
    indices = long_tail_indices(dataset.get_gt_labels(), imbalance_ratio, num_classes,
                                max_per_class)
    dataset.get_subset_(indices.tolist())
    return dataset
