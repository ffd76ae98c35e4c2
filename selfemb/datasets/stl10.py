"""STL-10 from the official binary files."""
import os
import os.path as osp
from typing import List, Tuple

import numpy as np

from selfemb.registry import DATASETS

from .base import InMemoryDataset, first_existing

HINT = ('Download and extract http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz '
        '(see docs/data_preparation.md); data_root is the stl10_binary folder or its parent.')
SIDE = 96
IMAGE_BYTES = 3 * SIDE * SIDE


@DATASETS.register_module()
class STL10(InMemoryDataset):
    """STL-10 (Coates et al. 2011): 5k train / 8k test labelled, 100k unlabelled 96x96 RGB.

    ``data_root`` is the extracted ``stl10_binary`` folder or its parent. ``{split}_X.bin``
    holds N x 3 x 96 x 96 uint8 where each channel plane is stored column-major (as read by
    the official ``read_all_images``: reshape to N x 3 x 96 x 96, then transpose to
    N x 96 x 96 x 3 with axes (0, 3, 2, 1)). ``{split}_y.bin`` holds one uint8 label 1..10
    per image, mapped to 0..9; unlabelled images get -1. ``class_names.txt``, when present,
    is checked against the class names. ``split='train+unlabeled'`` is the usual
    self-supervised training set (105k images, train first). The images are read through a
    memory map straight into one contiguous H x W x C array (the unlabelled split is
    2.8 GB in memory).
    """

    METAINFO = dict(classes=('airplane', 'bird', 'car', 'cat', 'deer', 'dog', 'horse',
                             'monkey', 'ship', 'truck'))
    SPLITS = ('train', 'test', 'unlabeled', 'train+unlabeled')

    def _folder(self) -> str:
        first = self.split.split('+')[0] + '_X.bin'
        path = first_existing(self.data_root, [first, osp.join('stl10_binary', first)], HINT)
        return osp.dirname(path)

    def _check_class_names(self, folder: str) -> None:
        path = osp.join(folder, 'class_names.txt')
        if not osp.exists(path):
            return
        with open(path) as f:
            names = tuple(line.strip() for line in f if line.strip())
        if names != self.METAINFO['classes']:
            raise ValueError(f'{path}: class names {names} differ from the STL10 classes '
                             f'{self.METAINFO["classes"]}')

    @staticmethod
    def _count(path: str) -> int:
        size = os.path.getsize(path)
        if size == 0 or size % IMAGE_BYTES:
            raise ValueError(f'{path}: {size} bytes is not a positive multiple of one '
                             f'3x{SIDE}x{SIDE} image ({IMAGE_BYTES} bytes); truncated file?')
        return size // IMAGE_BYTES

    def _read_labels(self, folder: str, part: str, count: int) -> np.ndarray:
        if part == 'unlabeled':
            return np.full(count, -1, np.int64)
        path = first_existing(folder, [f'{part}_y.bin'], HINT)
        labels = np.fromfile(path, np.uint8).astype(np.int64)
        if len(labels) != count:
            raise ValueError(f'{path}: {len(labels)} labels for {count} images in '
                             f'{part}_X.bin')
        if len(labels) and (labels.min() < 1 or labels.max() > 10):
            raise ValueError(f'{path}: labels must be 1..10, found {labels.min()}..'
                             f'{labels.max()}')
        return labels - 1

    def load_arrays(self) -> Tuple[np.ndarray, np.ndarray]:
        folder = self._folder()
        self._check_class_names(folder)
        parts: List[str] = self.split.split('+')
        paths = [first_existing(folder, [f'{part}_X.bin'], HINT) for part in parts]
        counts = [self._count(path) for path in paths]
        labels = [self._read_labels(folder, part, n) for part, n in zip(parts, counts)]
        images = np.empty((sum(counts), SIDE, SIDE, 3), np.uint8)
        start = 0
        for path, count in zip(paths, counts):
            planes = np.memmap(path, np.uint8, 'r', shape=(count, 3, SIDE, SIDE))
            images[start:start + count] = planes.transpose(0, 3, 2, 1)
            start += count
            del planes
        return images, np.concatenate(labels)
