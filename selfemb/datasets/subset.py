"""Labelled subsets (semi-supervised 1% / 10%): index files, written by
tools/benchmarks/classification/make_semi_subsets.py and read by ``filter_cfg.index_file``
of every data source."""
import os.path as osp
from typing import Any, List

import numpy as np

from selfemb.registry import DATASETS

from .checks import missing_file_error


def read_index_file(path: str) -> List[int]:
    """Indices from a text file, one non-negative integer per line (``#`` comments and
    blank lines skipped), as written by tools/benchmarks/classification/make_semi_subsets.py."""
    if not osp.isfile(path):
        raise missing_file_error(f'index file {path}', 'Write it with '
                                 'tools/benchmarks/classification/make_semi_subsets.py.')
    indices = []
    with open(path) as f:
        for num, line in enumerate(f, 1):
            text = line.split('#', 1)[0].strip()
            if not text:
                continue
            if not text.isdigit():
                raise ValueError(f'{path}:{num}: expected a non-negative integer, got {text!r}')
            indices.append(int(text))
    if not indices:
        raise ValueError(f'{path}: no indices')
    if len(set(indices)) != len(indices):
        raise ValueError(f'{path}: repeated indices')
    return indices


def class_balanced_subset(labels: np.ndarray, percent: float, seed: int = 0) -> np.ndarray:
    """Sorted indices of a class-balanced ``percent`` % subset: from every class c with
    n_c samples, ``max(1, floor(n_c * percent / 100 + 0.5))`` (rounded half up), drawn
    without replacement by a generator seeded with ``seed`` (same labels, percent and
    seed -> same subset)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(f'labels must be a non-empty 1-d array, got shape {labels.shape}')
    if (labels < 0).any():
        raise ValueError('every sample needs a label (found -1): a semi-supervised subset '
                         'is drawn per class')
    if not 0 < percent <= 100:
        raise ValueError(f'percent must be in (0, 100], got {percent}')
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        count = max(1, int(np.floor(len(members) * percent / 100 + 0.5)))
        picked.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(picked))


@DATASETS.register_module()
def SubsetFromFile(dataset: dict, index_file: str) -> Any:
    """Earlier configs' spelling of a label subset, kept so they still build: the source
    ``dataset`` with ``filter_cfg.index_file=index_file`` added (see
    ``FieldCacheMixin.filter_data``). New configs write the flat form::

        dataset=dict(type='FashionMNIST', split='train', pipeline=...,
                     filter_cfg=dict(index_file='data/fmnist_semi/train_10pct_seed0.txt'))
    """
    filter_cfg = dict(dataset.get('filter_cfg') or {}, index_file=index_file)
    return DATASETS.build(dict(dataset, filter_cfg=filter_cfg))
