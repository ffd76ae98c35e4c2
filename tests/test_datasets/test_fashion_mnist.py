"""FashionMNIST on tiny idx files written in the real format."""
import gzip
import struct

import cv2
import numpy as np
import pytest

from selfemb.datasets.fashion_mnist import FashionMNIST
from selfemb.registry import DATASETS

RNG = np.random.default_rng(1)
TRAIN = RNG.integers(0, 256, (7, 28, 28), dtype=np.uint8)
TRAIN_Y = np.array([0, 9, 3, 3, 5, 1, 8], np.uint8)
TEST = RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8)
TEST_Y = np.array([2, 7, 4], np.uint8)


def idx_bytes(array: np.ndarray) -> bytes:
    """The idx encoding: magic 0x0000 0x08 ndim, big-endian int32 sizes, raw bytes."""
    header = struct.pack('>HBB', 0, 8, array.ndim)
    header += b''.join(struct.pack('>i', n) for n in array.shape)
    return header + array.tobytes()


def write(path, data: bytes, gz: bool) -> None:
    path.write_bytes(gzip.compress(data) if gz else data)


@pytest.fixture
def root(tmp_path):
    for prefix, images, labels in (('train', TRAIN, TRAIN_Y), ('t10k', TEST, TEST_Y)):
        write(tmp_path / f'{prefix}-images-idx3-ubyte.gz', idx_bytes(images), True)
        write(tmp_path / f'{prefix}-labels-idx1-ubyte', idx_bytes(labels), False)
    return tmp_path


@pytest.mark.parametrize('split,images,labels', [('train', TRAIN, TRAIN_Y),
                                                 ('test', TEST, TEST_Y)])
def test_native_gray(root, split, images, labels):
    ds = FashionMNIST(data_root=str(root), split=split, size=None, to_rgb=False)
    np.testing.assert_array_equal(ds.get_images(), images[..., None])
    np.testing.assert_array_equal(ds.get_gt_labels(), labels.astype(np.int64))
    assert ds.metainfo['classes'][9] == 'Ankle boot'


def test_default_32_rgb(root):
    ds = DATASETS.build(dict(type='FashionMNIST', data_root=str(root), indices=4))
    assert isinstance(ds, FashionMNIST) and len(ds) == 4
    images = ds.get_images()
    assert images.shape == (4, 32, 32, 3)
    for i in range(4):
        expected = cv2.resize(TRAIN[i], (32, 32), interpolation=cv2.INTER_LINEAR)
        for c in range(3):
            np.testing.assert_array_equal(images[i, ..., c], expected)
    np.testing.assert_array_equal(ds[2]['img'], images[2])
    np.testing.assert_array_equal(ds.get_gt_labels(), TRAIN_Y[:4])


def test_constant_image_stays_constant(tmp_path):
    images = np.stack([np.full((28, 28), 77, np.uint8), np.full((28, 28), 200, np.uint8)])
    write(tmp_path / 't10k-images-idx3-ubyte', idx_bytes(images), False)
    write(tmp_path / 't10k-labels-idx1-ubyte.gz', idx_bytes(np.array([1, 2], np.uint8)), True)
    ds = FashionMNIST(data_root=str(tmp_path), split='test', size=20)
    assert ds.get_images().shape == (2, 20, 20, 3)
    assert set(np.unique(ds.get_images()[0])) == {77}
    assert set(np.unique(ds.get_images()[1])) == {200}


def test_torchvision_layout(tmp_path):
    raw = tmp_path / 'FashionMNIST' / 'raw'
    raw.mkdir(parents=True)
    write(raw / 'train-images-idx3-ubyte', idx_bytes(TRAIN), False)
    write(raw / 'train-labels-idx1-ubyte', idx_bytes(TRAIN_Y), False)
    assert len(FashionMNIST(data_root=str(tmp_path))) == 7


def test_missing(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        FashionMNIST(data_root=str(tmp_path / 'nowhere'))
    assert 'train-images-idx3-ubyte' in str(err.value)
    assert 'apt-get install dataset-fashion-mnist' in str(err.value)


@pytest.mark.parametrize('name,data,match', [
    ('train-images-idx3-ubyte.gz', idx_bytes(TRAIN_Y), 'magic number 2049, expected 2051'),
    ('train-images-idx3-ubyte.gz', idx_bytes(TRAIN)[:-5], 'truncated or corrupt'),
    ('train-images-idx3-ubyte.gz', gzip.compress(idx_bytes(TRAIN))[:-30], 'decompress'),
    ('train-labels-idx1-ubyte', idx_bytes(TRAIN_Y[:5]), '7 images but .* 5 labels'),
    ('train-labels-idx1-ubyte', idx_bytes(TRAIN_Y + 5), 'label 14 >= 10'),
    ('train-labels-idx1-ubyte', b'\x00\x00', 'too short'),
])
def test_corrupt(root, name, data, match):
    path = root / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=match) as err:
        FashionMNIST(data_root=str(root))
    assert str(path) in str(err.value)


def test_bad_arguments(root):
    with pytest.raises(ValueError, match='unknown split'):
        FashionMNIST(data_root=str(root), split='val')
    with pytest.raises(ValueError, match='size'):
        FashionMNIST(data_root=str(root), size=0)
