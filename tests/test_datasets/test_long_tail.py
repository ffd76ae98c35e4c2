"""filter_cfg.long_tail: the exponential profile, deterministic selection, labels, errors."""
import numpy as np
import pytest
import torch

from selfemb.datasets import FashionMNIST, long_tail_counts, long_tail_indices
from selfemb.registry import DATASETS


def test_cifar10_lt_counts_ratio_100():
    # the standard CIFAR-10-LT (ratio 100) per-class sizes, 12406 images in all
    counts = long_tail_counts(10, 5000, 100)
    assert counts == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    labels = np.repeat(np.arange(10), 5000)
    np.random.default_rng(0).shuffle(labels)
    keep = long_tail_indices(labels, 100)
    assert len(keep) == 12406
    np.testing.assert_array_equal(np.bincount(labels[keep]), counts)
    # the first n_c of each class in index order
    assert set(keep[labels[keep] == 9]) == set(np.flatnonzero(labels == 9)[:50])
    np.testing.assert_array_equal(keep, long_tail_indices(labels, 100))


def test_errors():
    with pytest.raises(ValueError, match='classes \\[1\\]'):
        long_tail_indices(np.array([0] * 10 + [1] * 2), 2)
    with pytest.raises(ValueError, match='labelled'):
        long_tail_indices(np.array([0, -1]), 2)
    with pytest.raises(ValueError, match='imbalance_ratio'):
        long_tail_counts(10, 100, 0.5)
    with pytest.raises(ValueError, match='leaves a class empty'):
        long_tail_counts(10, 5, 100)


def test_wrapper_keeps_labels_indices_and_images(tiny_fmnist):
    full = FashionMNIST(data_root=str(tiny_fmnist))
    lt = DATASETS.build(dict(type='FashionMNIST', data_root=str(tiny_fmnist),
                             filter_cfg=dict(long_tail=dict(imbalance_ratio=2))))
    counts = long_tail_counts(10, 7, 2)  # 64 images: classes 0-3 have 7, the rest 6
    assert counts == [7, 6, 6, 5, 5, 4, 4, 4, 3, 3]
    assert len(lt) == sum(counts)
    np.testing.assert_array_equal(np.bincount(lt.get_gt_labels()), counts)
    keep = long_tail_indices(full.get_gt_labels(), 2)
    np.testing.assert_array_equal(lt.get_images(), full.get_images()[keep])
    assert lt.get_data_info(len(lt) - 1)['sample_idx'] == len(lt) - 1
    with pytest.raises(ValueError, match='filter_cfg.long_tail must be a dict'):
        FashionMNIST(data_root=str(tiny_fmnist), filter_cfg=dict(long_tail=dict(ratio=2)))


def test_indices_select_from_the_long_tail_on_the_device(tiny_fmnist):
    full = FashionMNIST(data_root=str(tiny_fmnist))
    keep = long_tail_indices(full.get_gt_labels(), 2)
    lt = FashionMNIST(data_root=str(tiny_fmnist), indices=10, device='cpu',
                      filter_cfg=dict(long_tail=dict(imbalance_ratio=2)))
    assert len(lt) == 10
    batch = lt.__getitems__([3, 0])
    rows = torch.from_numpy(full.get_images()[keep[[3, 0]]]).permute(0, 3, 1, 2)
    assert torch.equal(batch['inputs'], rows)
    assert [s.sample_idx for s in batch['data_samples']] == [3, 0]
