"""SVHN on tiny .mat files written in the official layout (X: 32 x 32 x 3 x N, y: N x 1)."""
import numpy as np
import pytest
from scipy.io import savemat

from selfemb.datasets import SVHN
from selfemb.registry import DATASETS

RNG = np.random.default_rng(4)


def write_mat(path, images: np.ndarray, labels) -> None:
    """N x 32 x 32 x 3 RGB images, labels 1..10 -> the official ``X`` / ``y`` variables."""
    savemat(str(path), dict(X=images.transpose(1, 2, 3, 0),
                            y=np.asarray(labels, np.uint8).reshape(-1, 1)))


def make_svhn(root, counts=(('train', 4), ('test', 3), ('extra', 2))) -> dict:
    data = {}
    for split, n in counts:
        images = RNG.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        labels = [(10, 1, 9, 4)[i % 4] for i in range(n)]
        write_mat(root / f'{split}_32x32.mat', images, labels)
        data[split] = (images, np.array([0 if y == 10 else y for y in labels]))
    return data


def test_read_back(tmp_path):
    data = make_svhn(tmp_path)
    for split in ('train', 'test', 'extra'):
        ds = SVHN(data_root=str(tmp_path), split=split)
        np.testing.assert_array_equal(ds.get_images(), data[split][0])
        np.testing.assert_array_equal(ds.get_gt_labels(), data[split][1])
    np.testing.assert_array_equal(ds.get_gt_labels(), [0, 1])  # label 10 is digit 0
    both = DATASETS.build(dict(type='SVHN', data_root=str(tmp_path), split='train+extra'))
    np.testing.assert_array_equal(both.get_images(),
                                  np.concatenate([data['train'][0], data['extra'][0]]))
    np.testing.assert_array_equal(both.get_gt_labels(), [0, 1, 9, 4, 0, 1])
    assert both.metainfo['classes'][0] == '0' and len(both.metainfo['classes']) == 10
    sub = SVHN(data_root=str(tmp_path), indices=[3, 0])
    np.testing.assert_array_equal(sub.get_images(), data['train'][0][[3, 0]])
    np.testing.assert_array_equal(sub[0]['img'], data['train'][0][3])
    assert sub[0]['gt_label'] == 4


def test_orientation(tmp_path):
    img = np.zeros((1, 32, 32, 3), np.uint8)
    img[0, 2, 5, 1] = 200  # row 2, column 5, green
    savemat(str(tmp_path / 'train_32x32.mat'), dict(X=img.transpose(1, 2, 3, 0), y=[[3]]))
    got = SVHN(data_root=str(tmp_path)).get_images()[0]
    assert got[2, 5, 1] == 200 and got.sum() == 200


def test_double_labels(tmp_path):
    """MATLAB writes ``y`` as double unless told otherwise: integral values are accepted."""
    images = RNG.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    savemat(str(tmp_path / 'test_32x32.mat'),
            dict(X=images.transpose(1, 2, 3, 0), y=np.array([[10.0], [7.0]])))
    np.testing.assert_array_equal(SVHN(str(tmp_path), split='test').get_gt_labels(), [0, 7])
    savemat(str(tmp_path / 'test_32x32.mat'),
            dict(X=images.transpose(1, 2, 3, 0), y=np.array([[1.5], [7.0]])))
    with pytest.raises(ValueError, match='non-integer'):
        SVHN(str(tmp_path), split='test')


def test_missing(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        SVHN(data_root=str(tmp_path))
    assert str(tmp_path / 'train_32x32.mat') in str(err.value)
    assert 'ufldl.stanford.edu/housenumbers' in str(err.value)
    make_svhn(tmp_path, counts=(('train', 2), ))
    with pytest.raises(FileNotFoundError, match='extra_32x32.mat'):
        SVHN(data_root=str(tmp_path), split='train+extra')
    with pytest.raises(ValueError, match="'valid'"):
        SVHN(data_root=str(tmp_path), split='valid')


@pytest.mark.parametrize('write,match', [
    (lambda p: p.write_bytes(b'not a mat file at all' * 10), 'not a readable'),
    (lambda p: savemat(str(p), dict(X=np.zeros((32, 32, 3, 2), np.uint8))), 'missing variable'),
    (lambda p: savemat(str(p), dict(X=np.zeros((32, 32, 1, 2), np.uint8), y=[[1], [2]])),
     r'32 x 32 x 3 x N uint8, got shape \(32, 32, 1, 2\)'),
    (lambda p: savemat(str(p), dict(X=np.zeros((32, 32, 3, 2), np.float32), y=[[1], [2]])),
     'dtype float32'),
    (lambda p: savemat(str(p), dict(X=np.zeros((32, 32, 3, 2), np.uint8), y=[[1]])),
     '2 images but y has shape'),
    (lambda p: savemat(str(p), dict(X=np.zeros((32, 32, 3, 2), np.uint8), y=[[0], [3]])),
     r'1\.\.10.*found 0\.\.3'),
    (lambda p: savemat(str(p), dict(X=np.zeros((32, 32, 3, 2), np.uint8), y=[[1], [11]])),
     r'found 1\.\.11'),
])
def test_corrupt(tmp_path, write, match):
    path = tmp_path / 'test_32x32.mat'
    write(path)
    with pytest.raises(ValueError, match=match) as err:
        SVHN(data_root=str(tmp_path), split='test')
    assert str(path) in str(err.value)
