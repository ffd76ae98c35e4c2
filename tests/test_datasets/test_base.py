"""InMemoryDataset contract and the mmpretrain pipelines on top of it."""
from typing import Tuple

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from selfemb.datasets.base import InMemoryDataset

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (6, 40, 40, 3), dtype=np.uint8)
LABELS = np.array([3, 1, 4, 1, -1, 2], np.int64)


class Toy(InMemoryDataset):
    """Known arrays, optionally broken through ``mode``."""

    SPLITS = ('train', )

    def __init__(self, mode: str = 'ok', **kwargs) -> None:
        self.mode = mode
        super().__init__(**kwargs)

    def load_arrays(self) -> Tuple[np.ndarray, np.ndarray]:
        if self.mode == 'float':
            return IMAGES.astype(np.float32), LABELS
        if self.mode == 'mismatch':
            return IMAGES, LABELS[:-1]
        if self.mode == 'empty':
            return IMAGES[:0], LABELS[:0]
        return IMAGES, LABELS


@pytest.mark.parametrize('serialize', [True, False])
def test_entries_images_labels(serialize):
    ds = Toy(serialize_data=serialize)
    assert len(ds) == 6
    info = ds.get_data_info(2)
    assert info['img_idx'] == 2 and info['gt_label'] == 4 and info['sample_idx'] == 2
    np.testing.assert_array_equal(info['img'], IMAGES[2])
    info['img'][:] = 0  # a private copy: the stored image is untouched
    np.testing.assert_array_equal(ds.get_data_info(2)['img'], IMAGES[2])
    np.testing.assert_array_equal(ds.get_images(), IMAGES)
    np.testing.assert_array_equal(ds.get_gt_labels(), LABELS)
    assert ds.get_gt_labels().dtype == np.int64


@pytest.mark.parametrize('serialize', [True, False])
def test_indices_and_subsets(serialize):
    ds = Toy(indices=3, serialize_data=serialize)
    assert len(ds) == 3
    np.testing.assert_array_equal(ds.get_images(), IMAGES[:3])
    np.testing.assert_array_equal(ds.get_gt_labels(), LABELS[:3])

    full = Toy(serialize_data=serialize)
    full.get_gt_labels()  # fill the cache, which the subsets below must not reuse
    sub = full.get_subset([4, 0, 5])
    np.testing.assert_array_equal(sub.get_images(), IMAGES[[4, 0, 5]])
    np.testing.assert_array_equal(sub.get_gt_labels(), LABELS[[4, 0, 5]])
    assert sub.get_data_info(1)['sample_idx'] == 1
    assert sub._images is full._images  # shared, not deep-copied
    np.testing.assert_array_equal(full.get_gt_labels(), LABELS)
    full.get_subset_([1, 2])
    np.testing.assert_array_equal(full.get_images(), IMAGES[[1, 2]])
    np.testing.assert_array_equal(full.get_gt_labels(), LABELS[[1, 2]])


def test_lazy_init():
    ds = Toy(lazy_init=True)
    assert not ds._fully_initialized
    np.testing.assert_array_equal(ds.get_gt_labels(), LABELS)


@pytest.mark.parametrize('mode,match', [('float', 'uint8'), ('mismatch', '6 images but 5'),
                                        ('empty', 'empty')])
def test_bad_arrays(mode, match):
    with pytest.raises(ValueError, match=match):
        Toy(mode=mode)


def test_bad_split_and_empty_subset():
    with pytest.raises(ValueError, match="unknown split 'val'"):
        Toy(split='val')
    with pytest.raises(ValueError, match='no samples'):
        Toy(indices=0)


def test_single_view_pipeline():
    init_default_scope('selfemb')
    pipeline = [dict(type='mmpretrain.RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0)),
                dict(type='mmpretrain.PackInputs')]
    ds = Toy(pipeline=pipeline)
    out = ds[3]
    assert out['inputs'].shape == (3, 32, 32) and out['inputs'].dtype == torch.uint8
    sample = out['data_samples']
    assert sample.metainfo['sample_idx'] == 3
    assert sample.gt_label.tolist() == [1]
    batch = pseudo_collate([ds[i] for i in range(4)])
    assert [s.sample_idx for s in batch['data_samples']] == [0, 1, 2, 3]


def test_two_view_pipeline():
    init_default_scope('selfemb')
    view = [dict(type='mmpretrain.RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0)),
            dict(type='mmpretrain.RandomFlip', prob=0.5)]
    pipeline = [dict(type='mmpretrain.MultiView', num_views=2, transforms=[view]),
                dict(type='mmpretrain.PackInputs')]
    ds = Toy(pipeline=pipeline)
    out = ds[1]
    assert isinstance(out['inputs'], list) and len(out['inputs']) == 2
    assert all(v.shape == (3, 32, 32) and v.dtype == torch.uint8 for v in out['inputs'])
    assert out['data_samples'].metainfo['sample_idx'] == 1
    assert out['data_samples'].gt_label.tolist() == [1]
    # an unknown label (-1) packs too
    assert ds[4]['data_samples'].gt_label.tolist() == [-1]
