"""Read back the ``.npy`` features of ``tools/extract_features.py`` (SVM, recall@K, t-SNE)."""
import os
import os.path as osp
from typing import Optional, Tuple

import numpy as np


def load_features(out_dir: str, split: str, layer: str) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """``(features [N, D] float32, labels [N] int64 or None)`` written by
    ``tools/extract_features.py`` as ``<out_dir>/<split>_<layer>.npy`` and
    ``<split>_labels.npy``."""
    path = osp.join(out_dir, f'{split}_{layer}.npy')
    if not osp.isfile(path):
        have = sorted(f[:-4] for f in os.listdir(out_dir) if f.endswith('.npy')) \
            if osp.isdir(out_dir) else []
        raise FileNotFoundError(f'{path} does not exist (arrays in {out_dir}: {have})')
    feats = np.load(path)
    label_path = osp.join(out_dir, f'{split}_labels.npy')
    labels = np.load(label_path) if osp.isfile(label_path) else None
    if labels is not None and len(labels) != len(feats):
        raise ValueError(f'{label_path} has {len(labels)} labels for {len(feats)} rows of {path}')
    return feats, labels


def load_npy_pair(features: str, labels: Optional[str]) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """``<split>_<layer>.npy`` float32 (N, C) features and, optionally, (N,) labels."""
    for path in (features, labels):
        if path is not None and not osp.isfile(path):
            raise FileNotFoundError(f'{path} not found')
    feats = np.load(features)
    if feats.ndim != 2:
        raise ValueError(f'{features}: expected (N, C) features, got shape {feats.shape}')
    if labels is None:
        return feats.astype(np.float32), None
    lab = np.load(labels)
    if lab.shape != (len(feats), ):
        raise ValueError(f'{labels}: expected ({len(feats)},) labels for {features}, got '
                         f'{lab.shape}')
    return feats.astype(np.float32), lab.astype(np.int64)
