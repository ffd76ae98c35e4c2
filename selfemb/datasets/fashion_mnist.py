"""Fashion-MNIST from its idx files (plain or gzipped)."""
import gzip
import os.path as osp
import zlib
from typing import Optional, Tuple

import cv2
import numpy as np

from selfemb.registry import DATASETS

from .base import InMemoryDataset, missing_file_error

HINT = ('Install it with `apt-get install dataset-fashion-mnist` (files land in '
        '/usr/share/datasets/fashion-mnist) or point data_root at a folder holding the '
        'idx files; see docs/data_preparation.md.')
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049


def read_idx(path: str, magic: int) -> np.ndarray:
    """Read a uint8 idx file (``magic`` 2051 images N x H x W, 2049 labels N).

    The header is a big-endian int32 magic (``0x0000 0x08 ndim``) then ``ndim`` big-endian
    int32 sizes; the payload must hold exactly their product of bytes. Gzip is detected
    from the content, not the name.
    """
    try:
        with open(path, 'rb') as f:
            raw = f.read()
        if raw[:2] == b'\x1f\x8b':
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f'{path}: cannot read / decompress ({e})') from e
    if len(raw) < 4:
        raise ValueError(f'{path}: {len(raw)} bytes, too short for an idx header')
    found = int.from_bytes(raw[:4], 'big')
    if found != magic:
        raise ValueError(f'{path}: idx magic number {found}, expected {magic} '
                         f'({"images" if magic == IMAGES_MAGIC else "labels"})')
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f'{path}: truncated idx header')
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise ValueError(f'{path}: idx header says shape {shape} ({expected} bytes) but the '
                         f'file holds {len(raw) - header} data bytes (truncated or corrupt)')
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


@DATASETS.register_module()
class FashionMNIST(InMemoryDataset):
    """Fashion-MNIST (Xiao et al. 2017): 60k train / 10k test 28x28 gray images, 10 classes.

    Reads ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` in ``data_root`` (or in
    torchvision's ``data_root/FashionMNIST/raw``). For the CIFAR recipes (CIFAR ResNet,
    32x32 RGB crops) the gray image is resized once at load time to ``size x size`` with
    bilinear interpolation (``cv2.INTER_LINEAR``; ``size=None`` keeps 28x28) and, with
    ``to_rgb``, replicated into 3 identical channels, so every CIFAR pipeline and data
    preprocessor applies unchanged. ``to_rgb=False`` keeps ``H x W x 1``.

    Args:
        data_root: folder with the idx files.
        split: ``'train'`` or ``'test'``.
        size: side of the stored square images, or None for the native 28.
        to_rgb: replicate gray into 3 channels.
        **kwargs: ``mmengine.dataset.BaseDataset`` arguments (pipeline, indices, ...).
    """

    METAINFO = dict(classes=('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                             'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'))
    SPLITS = ('train', 'test')

    def __init__(self, data_root: str = '/usr/share/datasets/fashion-mnist',
                 split: str = 'train', size: Optional[int] = 32, to_rgb: bool = True,
                 **kwargs) -> None:
        if size is not None and size <= 0:
            raise ValueError(f'FashionMNIST: size must be positive or None, got {size}')
        self.size, self.to_rgb = size, to_rgb
        super().__init__(data_root=data_root, split=split, **kwargs)

    def _find(self, name: str) -> str:
        folders = [self.data_root, osp.join(self.data_root, 'FashionMNIST', 'raw')]
        candidates = [osp.join(d, name + ext) for d in folders for ext in ('', '.gz')]
        for path in candidates:
            if osp.isfile(path):
                return path
        raise missing_file_error(candidates[0] + '[.gz]', HINT)

    def load_arrays(self) -> Tuple[np.ndarray, np.ndarray]:
        prefix = 'train' if self.split == 'train' else 't10k'
        images_path = self._find(f'{prefix}-images-idx3-ubyte')
        labels_path = self._find(f'{prefix}-labels-idx1-ubyte')
        images = read_idx(images_path, IMAGES_MAGIC)
        labels = read_idx(labels_path, LABELS_MAGIC)
        if len(images) != len(labels):
            raise ValueError(f'{images_path} holds {len(images)} images but {labels_path} '
                             f'holds {len(labels)} labels')
        num_classes = len(self.METAINFO['classes'])
        if len(labels) and labels.max() >= num_classes:
            raise ValueError(f'{labels_path}: label {labels.max()} >= {num_classes} classes')
        if self.size is not None and images.shape[1:] != (self.size, self.size):
            resized = np.empty((len(images), self.size, self.size), np.uint8)
            for i, img in enumerate(images):
                resized[i] = cv2.resize(img, (self.size, self.size),
                                        interpolation=cv2.INTER_LINEAR)
            images = resized
        images = images[..., None]
        if self.to_rgb:
            images = np.repeat(images, 3, axis=3)
        return np.ascontiguousarray(images), labels.astype(np.int64)
