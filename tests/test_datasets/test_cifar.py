"""CIFAR10 / CIFAR100 on tiny pickle batches written in the official layout."""
import os
import pickle

import numpy as np
import pytest

from selfemb.datasets.cifar import CIFAR10, CIFAR100
from selfemb.registry import DATASETS

RNG = np.random.default_rng(2)


def batch_data(images: np.ndarray) -> np.ndarray:
    """N x 32 x 32 x 3 RGB -> the official N x 3072 rows (R plane, G plane, B plane)."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), 3072)


def dump(path, obj, protocol: int = 2) -> None:  # the official files are protocol 2
    with open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=protocol)


def make_cifar10(root, per_batch: int = 2):
    folder = root / 'cifar-10-batches-py'
    folder.mkdir()
    images = RNG.integers(0, 256, (5 * per_batch, 32, 32, 3), dtype=np.uint8)
    labels = RNG.integers(0, 10, 5 * per_batch)
    for b in range(5):
        part = slice(b * per_batch, (b + 1) * per_batch)
        dump(folder / f'data_batch_{b + 1}',
             dict(batch_label=f'training batch {b + 1} of 5', labels=labels[part].tolist(),
                  data=batch_data(images[part]), filenames=['x.png'] * per_batch))
    test_images = RNG.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    dump(folder / 'test_batch', dict(labels=[9, 0, 5], data=batch_data(test_images)), 4)
    dump(folder / 'batches.meta', dict(label_names=list(CIFAR10.METAINFO['classes']),
                                       num_cases_per_batch=per_batch, num_vis=3072))
    return folder, images, labels, test_images


def test_cifar10_train_and_test(tmp_path):
    folder, images, labels, test_images = make_cifar10(tmp_path)
    for root in (tmp_path, folder):  # the parent or the extracted folder
        ds = CIFAR10(data_root=str(root))
        np.testing.assert_array_equal(ds.get_images(), images)
        np.testing.assert_array_equal(ds.get_gt_labels(), labels)
    # pixel (row 1, col 2) of image 0, channel G, is byte 1024 + 1 * 32 + 2 of its row
    row = batch_data(images[:1])[0]
    assert ds.get_images()[0, 1, 2, 1] == row[1024 + 34]
    test = DATASETS.build(dict(type='CIFAR10', data_root=str(tmp_path), split='test'))
    np.testing.assert_array_equal(test.get_images(), test_images)
    np.testing.assert_array_equal(test.get_gt_labels(), [9, 0, 5])
    sub = CIFAR10(data_root=str(tmp_path), indices=3)
    np.testing.assert_array_equal(sub.get_images(), images[:3])
    np.testing.assert_array_equal(sub[2]['img'], images[2])
    assert sub[2]['gt_label'] == labels[2]


def test_cifar100_fine_labels(tmp_path):
    folder = tmp_path / 'cifar-100-python'
    folder.mkdir()
    images = RNG.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    fine = [99, 0, 42, 7]
    dump(folder / 'train', dict(filenames=['a'] * 4, fine_labels=fine, coarse_labels=[1] * 4,
                                data=batch_data(images)), 5)
    dump(folder / 'meta', dict(fine_label_names=list(CIFAR100.METAINFO['classes']),
                               coarse_label_names=['c'] * 20))
    ds = CIFAR100(data_root=str(folder))
    np.testing.assert_array_equal(ds.get_images(), images)
    np.testing.assert_array_equal(ds.get_gt_labels(), fine)
    assert len(ds.metainfo['classes']) == 100 and ds.metainfo['classes'][99] == 'worm'
    with pytest.raises(FileNotFoundError, match='cifar-100-python/test'):
        CIFAR100(data_root=str(tmp_path), split='test')


def test_missing(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        CIFAR10(data_root=str(tmp_path))
    assert str(tmp_path / 'cifar-10-batches-py' / 'data_batch_1') in str(err.value)
    assert 'cifar-10-python.tar.gz' in str(err.value)
    folder, *_ = make_cifar10(tmp_path)
    os.remove(folder / 'data_batch_3')
    with pytest.raises(FileNotFoundError, match='data_batch_3'):
        CIFAR10(data_root=str(folder))


@pytest.mark.parametrize('name,corrupt,match', [
    ('data_batch_2', lambda p: p.write_bytes(p.read_bytes()[:100]), 'not a readable'),
    ('data_batch_4', lambda p: dump(p, dict(labels=[1, 2], data=np.zeros((2, 3000), np.uint8))),
     'N x 3072'),
    ('data_batch_4', lambda p: dump(p, dict(labels=[1], data=np.zeros((2, 3072), np.uint8))),
     '2 images but 1 labels'),
    ('data_batch_5', lambda p: dump(p, dict(labels=[1, 10], data=np.zeros((2, 3072), np.uint8))),
     r'outside 0\.\.9'),
    ('data_batch_1', lambda p: dump(p, dict(data=np.zeros((2, 3072), np.uint8))), 'missing key'),
    ('batches.meta', lambda p: dump(p, dict(label_names=['a', 'b'])), 'differ'),
])
def test_corrupt(tmp_path, name, corrupt, match):
    folder, *_ = make_cifar10(tmp_path)
    corrupt(folder / name)
    with pytest.raises(ValueError, match=match) as err:
        CIFAR10(data_root=str(tmp_path))
    assert str(folder / name) in str(err.value)


class _Evil:

    def __reduce__(self):
        return (os.mkdir, (self.target, ))


def test_pickle_cannot_run_code(tmp_path):
    folder, *_ = make_cifar10(tmp_path)
    evil = _Evil()
    evil.target = str(tmp_path / 'pwned')
    dump(folder / 'data_batch_1', dict(labels=[0], data=evil))
    with pytest.raises(ValueError, match='forbidden'):
        CIFAR10(data_root=str(folder))
    assert not (tmp_path / 'pwned').exists()
