"""Long-tailed subsets of labelled data sources (CIFAR-10-LT style, Cao et al. 2019).

Class ``c`` of ``C`` keeps ``n_c = int(n_max · ratio^(-c / (C - 1)))`` samples: the head
class ``0`` keeps ``n_max``, the tail class ``C - 1`` keeps ``n_max / ratio`` (ratio 100
on CIFAR-10 with ``n_max`` 5000 gives 5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50).
The kept samples are the first ``n_c`` of each class in the source's index order, so the
subset is the same on every rank and every run (no random state to resume).

Any labelled data source takes it as a filter (applied after ``filter_cfg.classes``, before
``indices``, which then select from the long tail)::

    dataset=dict(type='CIFAR10', split='train', filter_cfg=dict(long_tail=dict(
        imbalance_ratio=100)))
"""
from typing import List, Optional

import numpy as np


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
        raise ValueError('a long tail needs a labelled source (every gt_label >= 0)')
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    available = np.bincount(labels, minlength=num_classes)
    if len(available) > num_classes:
        raise ValueError(f'labels go up to {labels.max()} but num_classes={num_classes}')
    n_max = int(available[0]) if max_per_class is None else max_per_class
    counts = long_tail_counts(num_classes, n_max, imbalance_ratio)
    short = [c for c in range(num_classes) if available[c] < counts[c]]
    if short:
        raise ValueError(f'long tail: classes {short} have {available[short].tolist()} '
                         f'samples, fewer than the {[counts[c] for c in short]} required; '
                         'lower max_per_class')
    keep = [np.flatnonzero(labels == c)[:counts[c]] for c in range(num_classes)]
    return np.sort(np.concatenate(keep))
