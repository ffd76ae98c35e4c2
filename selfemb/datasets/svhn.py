"""SVHN (cropped digits) from the official ``*_32x32.mat`` files."""
import os.path as osp
from typing import List, Tuple

import numpy as np

from selfemb.registry import DATASETS

from .base import InMemoryDataset, missing_file_error

HINT = ('Download train_32x32.mat / test_32x32.mat / extra_32x32.mat from '
        'http://ufldl.stanford.edu/housenumbers/ (see docs/data_preparation.md); data_root '
        'is the folder holding them.')


def load_svhn_mat(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Read one official SVHN ``.mat`` file: ``(N x 32 x 32 x 3 uint8, N labels 0..9)``.

    The file (MATLAB 5, read with ``scipy.io.loadmat``) holds ``X``, ``32 x 32 x 3 x N``
    uint8 indexed (row, column, channel RGB, image), and ``y``, ``N x 1`` labels 1..10
    where 10 is the digit 0; it is mapped to 0 so labels equal digits (as torchvision).
    """
    if not osp.exists(path):
        raise missing_file_error(path, HINT)
    try:
        from scipy.io import loadmat
    except ImportError as err:
        raise ImportError(f'reading {path} needs scipy: pip install scipy') from err
    try:
        mat = loadmat(path, variable_names=['X', 'y'])
    except Exception as err:  # truncated, not a .mat, MATLAB v7.3 (HDF5)
        raise ValueError(f'{path}: not a readable SVHN .mat file ({err!r})') from err
    if 'X' not in mat or 'y' not in mat:
        raise ValueError(f'{path}: missing variable "X" or "y" (found '
                         f'{sorted(k for k in mat if not k.startswith("__"))})')
    x, y = mat['X'], np.asarray(mat['y'])
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise ValueError(f'{path}: X must be 32 x 32 x 3 x N uint8, got shape {x.shape} '
                         f'dtype {x.dtype}')
    if y.dtype.kind == 'f' and not np.all(np.mod(y, 1) == 0):
        raise ValueError(f'{path}: y holds non-integer labels')
    labels = y.astype(np.int64).reshape(-1)
    if y.ndim > 2 or labels.size != x.shape[3]:
        raise ValueError(f'{path}: {x.shape[3]} images but y has shape {y.shape}')
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise ValueError(f'{path}: labels must be 1..10 (10 is digit 0), found '
                         f'{labels.min()}..{labels.max()}')
    labels[labels == 10] = 0
    return np.ascontiguousarray(x.transpose(3, 0, 1, 2)), labels


@DATASETS.register_module()
class SVHN(InMemoryDataset):
    """SVHN (Netzer et al. 2011), cropped digits: 73,257 train / 26,032 test / 531,131 extra
    32x32 RGB images, 10 classes (label = digit).

    ``data_root`` holds ``train_32x32.mat``, ``test_32x32.mat`` and (for ``'extra'`` /
    ``'train+extra'``) ``extra_32x32.mat``; see :func:`load_svhn_mat` for the layout.
    ``'train+extra'`` is train followed by extra (604,388 images, 1.9 GB in memory).
    """

    METAINFO = dict(classes=tuple(str(d) for d in range(10)))
    SPLITS = ('train', 'test', 'extra', 'train+extra')

    def load_arrays(self) -> Tuple[np.ndarray, np.ndarray]:
        parts: List[str] = self.split.split('+')
        paths = [osp.join(self.data_root, f'{part}_32x32.mat') for part in parts]
        for path in paths:  # every file before reading any: a missing one fails fast
            if not osp.exists(path):
                raise missing_file_error(path, HINT)
        loaded = [load_svhn_mat(path) for path in paths]
        if len(loaded) == 1:
            return loaded[0]
        return (np.concatenate([images for images, _ in loaded]),
                np.concatenate([labels for _, labels in loaded]))
