"""Tiny data sets in the real on-disk formats, for running every config on CPU."""
from pathlib import Path

import cv2
import numpy as np

from tests.conftest import write_fashion_mnist
from tests.test_datasets.test_cifar import batch_data, dump
from tests.test_datasets.test_retrieval import image, write_cars, write_cub
from tests.test_datasets.test_stl10 import x_bytes
from tests.test_datasets.test_svhn import write_mat
from tests.test_datasets.test_voc07 import write_voc07

RNG = np.random.default_rng(0)


def write_cifar10(root: Path, per_batch: int = 8) -> Path:
    folder = root / 'cifar-10-batches-py'
    folder.mkdir(parents=True)
    for b in range(1, 6):
        dump(folder / f'data_batch_{b}',
             dict(data=batch_data(RNG.integers(0, 256, (per_batch, 32, 32, 3), np.uint8)),
                  labels=(np.arange(per_batch) % 10).tolist()))
    dump(folder / 'test_batch', dict(data=batch_data(RNG.integers(0, 256, (20, 32, 32, 3),
                                                                  np.uint8)),
                                     labels=(np.arange(20) % 10).tolist()))
    return root


def write_cifar100(root: Path, num_train: int = 40, num_test: int = 20) -> Path:
    folder = root / 'cifar-100-python'
    folder.mkdir(parents=True)
    for split, n in (('train', num_train), ('test', num_test)):
        dump(folder / split,
             dict(data=batch_data(RNG.integers(0, 256, (n, 32, 32, 3), np.uint8)),
                  fine_labels=(np.arange(n) % 100).tolist(), coarse_labels=[0] * n))
    return root


def write_svhn(root: Path, num_train: int = 40, num_test: int = 20) -> Path:
    """``train_32x32.mat`` / ``test_32x32.mat`` (labels 1..10, 10 = digit 0)."""
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (('train', num_train), ('test', num_test)):
        write_mat(root / f'{split}_32x32.mat', RNG.integers(0, 256, (n, 32, 32, 3), np.uint8),
                  np.arange(n) % 10 + 1)
    return root


def write_stl10(root: Path, num_train: int = 20, num_unlabeled: int = 20) -> Path:
    folder = root / 'stl10_binary'
    folder.mkdir(parents=True)
    for split, n in (('train', num_train), ('test', num_train)):
        (folder / f'{split}_X.bin').write_bytes(
            x_bytes(RNG.integers(0, 256, (n, 96, 96, 3), np.uint8)))
        (folder / f'{split}_y.bin').write_bytes((np.arange(n) % 10 + 1).astype(np.uint8).tobytes())
    (folder / 'unlabeled_X.bin').write_bytes(
        x_bytes(RNG.integers(0, 256, (num_unlabeled, 96, 96, 3), np.uint8)))
    return root


def write_image_list(root: Path, per_split: int = 24, size: int = 40) -> Path:
    """``root/{train,val}/cK/i.png`` and ``root/meta/{train,val}.txt`` (path label)."""
    (root / 'meta').mkdir(parents=True)
    for split in ('train', 'val'):
        lines = []
        for i in range(per_split):
            name = f'c{i % 4}/{i}.png'
            (root / split / name).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / split / name), RNG.integers(0, 256, (size, size + 4, 3),
                                                               np.uint8))
            lines.append(f'{name} {i % 4}')
        (root / 'meta' / f'{split}.txt').write_text('\n'.join(lines) + '\n')
    return root


def write_cub200(root: Path) -> Path:
    """12 images of seen classes (1-100) and 12 of unseen ones (101-200)."""
    return write_cub(root, classes=(1, 40, 100, 101, 150, 200) * 4)


def write_cars196(root: Path) -> Path:
    """12 images of seen classes (1-98) and 12 of unseen ones (99-196)."""
    return write_cars(root, classes=(1, 50, 98, 99, 150, 196) * 4)


def write_sop(root: Path, per_split: int = 12) -> Path:
    """Ebay_train.txt (classes 1-11318) / Ebay_test.txt (11319-22634), header + 4 columns."""
    for split, first in (('train', 1), ('test', 11319)):
        lines = ['image_id class_id super_class_id path']
        for i in range(1, per_split + 1):
            rel = f'bicycle_final/{split}_{i}.JPG'
            image(root / rel)
            lines.append(f'{i} {first + i % 3} 1 {rel}')
        (root / f'Ebay_{split}.txt').write_text('\n'.join(lines) + '\n')
    return root


def write_voc07_splits(root: Path, per_split: int = 6) -> Path:
    """VOC2007 trainval and test (ImageSets/Main lists, class files, 8 x 8 JPEGs)."""
    write_voc07(root, 'trainval', ids=[f'{i:06d}' for i in range(per_split)])
    write_voc07(root, 'test', ids=[f'{i:06d}' for i in range(100, 100 + per_split)], seed=1)
    return root


WRITERS = {
    'FashionMNIST': write_fashion_mnist,
    'CIFAR10': write_cifar10,
    'CIFAR100': write_cifar100,
    'SVHN': write_svhn,
    'STL10': write_stl10,
    'ImageList': write_image_list,
    'CUB200': write_cub200,
    'Cars196': write_cars196,
    'StanfordOnlineProducts': write_sop,
    'VOC07Classification': write_voc07_splits,
}
