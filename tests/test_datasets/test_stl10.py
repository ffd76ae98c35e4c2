"""STL10 on tiny binary files written in the official layout."""
import numpy as np
import pytest

from selfemb.datasets.stl10 import STL10

RNG = np.random.default_rng(3)
TRAIN = RNG.integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
TRAIN_Y = np.array([1, 10, 4], np.uint8)
UNLABELED = RNG.integers(0, 256, (2, 96, 96, 3), dtype=np.uint8)


def x_bytes(images: np.ndarray) -> bytes:
    """N x H x W x C -> per image, per channel, the plane stored column by column."""
    out = bytearray()
    for img in images:
        for c in range(3):
            out += img[:, :, c].tobytes(order='F')  # column-major plane
    return bytes(out)


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / 'stl10_binary'
    folder.mkdir()
    (folder / 'train_X.bin').write_bytes(x_bytes(TRAIN))
    (folder / 'train_y.bin').write_bytes(TRAIN_Y.tobytes())
    (folder / 'unlabeled_X.bin').write_bytes(x_bytes(UNLABELED))
    (folder / 'class_names.txt').write_text('\n'.join(STL10.METAINFO['classes']) + '\n')
    return tmp_path


def test_orientation():
    # pixel (row 5, col 7, green) of image 0 is byte 96 * 96 + 7 * 96 + 5 of the file
    assert x_bytes(TRAIN)[96 * 96 + 7 * 96 + 5] == TRAIN[0, 5, 7, 1]


def test_train(root):
    for data_root in (root, root / 'stl10_binary'):
        ds = STL10(data_root=str(data_root), split='train')
        np.testing.assert_array_equal(ds.get_images(), TRAIN)
        np.testing.assert_array_equal(ds.get_gt_labels(), [0, 9, 3])
    assert ds.metainfo['classes'][9] == 'truck'
    np.testing.assert_array_equal(ds[1]['img'], TRAIN[1])


def test_unlabeled_and_union(root):
    ds = STL10(data_root=str(root), split='unlabeled')
    np.testing.assert_array_equal(ds.get_images(), UNLABELED)
    np.testing.assert_array_equal(ds.get_gt_labels(), [-1, -1])
    both = STL10(data_root=str(root), split='train+unlabeled')
    np.testing.assert_array_equal(both.get_images(), np.concatenate([TRAIN, UNLABELED]))
    np.testing.assert_array_equal(both.get_gt_labels(), [0, 9, 3, -1, -1])
    sub = STL10(data_root=str(root), split='train+unlabeled', indices=[4, 0])
    np.testing.assert_array_equal(sub.get_images(), both.get_images()[[4, 0]])
    np.testing.assert_array_equal(sub.get_gt_labels(), [-1, 0])


def test_missing(root):
    with pytest.raises(FileNotFoundError) as err:
        STL10(data_root=str(root), split='test')
    assert str(root / 'stl10_binary' / 'test_X.bin') in str(err.value)
    assert 'stl10_binary.tar.gz' in str(err.value)
    (root / 'stl10_binary' / 'train_y.bin').unlink()
    with pytest.raises(FileNotFoundError, match='train_y.bin'):
        STL10(data_root=str(root), split='train')
    with pytest.raises(ValueError, match='unknown split'):
        STL10(data_root=str(root), split='val')


@pytest.mark.parametrize('name,data,match', [
    ('train_X.bin', x_bytes(TRAIN)[:-1], 'not a positive multiple'),
    ('train_X.bin', b'', 'not a positive multiple'),
    ('train_y.bin', TRAIN_Y[:2].tobytes(), '2 labels for 3 images'),
    ('train_y.bin', np.array([0, 1, 2], np.uint8).tobytes(), r'labels must be 1\.\.10'),
    ('class_names.txt', b'cat\ndog\n', 'differ'),
])
def test_corrupt(root, name, data, match):
    path = root / 'stl10_binary' / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=match) as err:
        STL10(data_root=str(root), split='train')
    assert str(path) in str(err.value)
