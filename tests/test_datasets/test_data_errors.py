"""Data errors name their cause: unreadable images and out-of-range ``indices``."""
import re

import cv2
import numpy as np
import pytest
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

from selfemb.datasets import (
    CIFAR10,
    FashionMNIST,
    ImageFolder,
    ImageList,
    IndicesError,
    SampleLoadError,
)
from selfemb.registry import DATASETS

from .test_cifar import make_cifar10

LOAD = [dict(type='mmpretrain.LoadImageFromFile'), dict(type='mmpretrain.PackInputs')]
BAD = {'a_empty.jpg': b'',  # zero bytes
       'b_noise.jpg': np.random.default_rng(0).integers(0, 256, 300, np.uint8).tobytes(),
       'c_text.png': b'just some text, renamed to .png\n'}


@pytest.fixture
def folder(tmp_path):
    """``good/ok.png`` (sample 0) then the three bad files in ``poor/`` (samples 1-3)."""
    (tmp_path / 'good').mkdir()
    (tmp_path / 'poor').mkdir()
    assert cv2.imwrite(str(tmp_path / 'good' / 'ok.png'), np.full((6, 7, 3), 9, np.uint8))
    for name, data in BAD.items():
        (tmp_path / 'poor' / name).write_bytes(data)
    return tmp_path


def folder_dataset(root, **kwargs) -> ImageFolder:
    init_default_scope('selfemb')
    return DATASETS.build(dict(dict(type='ImageFolder', data_root=str(root), pipeline=LOAD),
                               **kwargs))


def check_message(text: str, path: str, idx: int) -> None:
    assert 'ImageFolder' in text and f'sample {idx} ' in text, text
    assert f'file {path}' in text and 'LoadImageFromFile' in text, text
    assert 'Remove or replace this file' in text, text


@pytest.mark.parametrize('test_mode', [False, True])
def test_bad_files_are_named_when_read(folder, test_mode):
    ds = folder_dataset(folder, test_mode=test_mode)
    assert ds[0]['inputs'].shape == (3, 6, 7)
    for idx, name in enumerate(BAD, 1):
        path = str(folder / 'poor' / name)
        assert ds.get_data_info(idx)['img_path'] == path
        with pytest.raises(SampleLoadError) as err:
            ds[idx]
        check_message(str(err.value), path, idx)
        assert err.value.__cause__ is not None  # the original error is chained
    with pytest.raises(SampleLoadError, match=re.escape('is empty (0 bytes)')):
        ds[1]


@pytest.mark.parametrize('workers', [0, 1])
def test_bad_file_named_through_a_dataloader(folder, workers):
    ds = folder_dataset(folder, indices=[0, 2])  # sample 1 is b_noise.jpg
    loader = DataLoader(ds, batch_size=2, num_workers=workers, collate_fn=pseudo_collate)
    with pytest.raises(SampleLoadError) as err:
        next(iter(loader))
    check_message(str(err.value), str(folder / 'poor' / 'b_noise.jpg'), 1)


def test_bad_file_named_through_a_view_wrapper(folder):
    pairs = DATASETS.build(dict(type='NeighbourPairDataset', dataset=dict(
        type='ImageFolder', data_root=str(folder), pipeline=LOAD)))
    assert len(pairs[0]['inputs']) == 2
    pairs.set_partners(np.array([3, 0, 0, 0]))  # sample 0's second view is c_text.png
    with pytest.raises(SampleLoadError) as err:
        pairs[0]
    check_message(str(err.value), str(folder / 'poor' / 'c_text.png'), 3)


def test_rejected_sample_is_reported_not_replaced(folder):
    """mmengine replaces a ``None`` sample by a random other one; here it is an error."""
    pipeline = [dict(type='mmpretrain.LoadImageFromFile', ignore_empty=True),
                dict(type='mmpretrain.PackInputs')]
    ds = folder_dataset(folder, pipeline=pipeline)
    with pytest.raises(SampleLoadError, match=r'sample 1 .*returned None.*0 bytes'):
        ds[1]


def test_missing_listed_file_is_named(folder):
    (folder / 'list.txt').write_text('good/ok.png 0\ngood/gone.png 1\n')
    ds = ImageList(data_root=str(folder), ann_file='list.txt', pipeline=LOAD)
    with pytest.raises(SampleLoadError, match=r'ImageList\(.*list\.txt.*sample 1 \(file '
                       + re.escape(str(folder / 'good' / 'gone.png')) + r'\).*does not exist'):
        ds[1]


def test_in_memory_failure_names_dataset_and_row(tiny_fmnist):
    def broken(results: dict) -> dict:
        raise KeyError('no such key')
    ds = FashionMNIST(str(tiny_fmnist), split='test', indices=[5, 7], pipeline=[broken])
    with pytest.raises(SampleLoadError, match=r"FashionMNIST\(.*split='test'.*sample 1 "
                       r"\(img_idx=7\) failed in broken: KeyError.*Check the pipeline"):
        ds[1]


def test_non_text_list_and_empty_class_folder(folder):
    (folder / 'list.bin').write_bytes(b'\xff\xfe\x00\x81' * 8)
    with pytest.raises(ValueError, match='list.bin: not a text image list'):
        ImageList(data_root=str(folder), ann_file='list.bin')
    (folder / 'empty').mkdir()
    with pytest.raises(ValueError, match=re.escape(str(folder / 'empty')) + '.* no images'):
        ImageFolder(data_root=str(folder))
    with pytest.raises(ValueError, match='no class sub-folders'):
        ImageFolder(data_root=str(folder / 'empty'))


@pytest.fixture
def cifar(tmp_path_factory):
    root = tmp_path_factory.mktemp('cifar')
    make_cifar10(root)  # 3 test images
    return root


@pytest.mark.parametrize('serialize', [True, False])
def test_indices_beyond_the_length(tiny_fmnist, folder, cifar, serialize):
    kw = dict(serialize_data=serialize)
    builders = {'FashionMNIST': (32, lambda **k: FashionMNIST(str(tiny_fmnist), 'test', **k)),
                'CIFAR10': (3, lambda **k: CIFAR10(str(cifar), 'test', **k)),
                'ImageFolder': (4, lambda **k: ImageFolder(str(folder), **k))}
    for name, (n, build) in builders.items():
        with pytest.raises(IndicesError, match=rf'{name}\(.*indices={n + 1} .* only {n}'):
            build(indices=n + 1, **kw)
        with pytest.raises(IndicesError, match=rf'indices={-n - 1} .* only {n}'):
            build(indices=-n - 1, **kw)
        with pytest.raises(IndicesError, match=rf'{name}\(.*indices\[1\]={n} is outside its '
                                               rf'{n} samples'):
            build(indices=[0, n, 1], **kw)
        with pytest.raises(IndicesError, match=rf'indices\[0\]={-n - 1} '):
            build(indices=[-n - 1], **kw)
        assert len(build(indices=n, **kw)) == n
        assert len(build(indices=-n, **kw)) == n
        assert len(build(indices=[n - 1, -n], **kw)) == 2
        full = build(**kw)
        with pytest.raises(IndicesError, match=rf'indices={n + 1} .* only {n}'):
            full.get_subset(n + 1)
        with pytest.raises(IndicesError, match=rf'indices\[0\]={n} '):
            full.get_subset_([n])
        assert len(full) == n  # a failed subset leaves the dataset as it was
        for k in (n, -n, 2, -2):  # serialised: mmengine itself fails on n and -n
            labels = full.get_gt_labels()
            assert full.get_subset(k).get_gt_labels().tolist() == (
                labels[:k] if k > 0 else labels[k:]).tolist()
        full.get_subset_(n)
        assert len(full) == n


def test_indices_after_a_class_filter_and_their_type(tiny_fmnist):
    with pytest.raises(IndicesError, match=r"filter_cfg=.*indices=20 .* only 17"):
        FashionMNIST(str(tiny_fmnist), 'test', filter_cfg=dict(classes=[0, 1, 2, 3, 4]),
                     indices=20)
    with pytest.raises(TypeError, match="indices must be an int or a list of ints, got '8'"):
        FashionMNIST(str(tiny_fmnist), 'test', indices='8')
    with pytest.raises(TypeError, match=r'indices\[1\]=1.5 is not an integer'):
        FashionMNIST(str(tiny_fmnist), 'test', indices=[0, 1.5])
    ds = FashionMNIST(str(tiny_fmnist), 'test', indices=np.array([3, 1]))
    assert ds.get_gt_labels().tolist() == [3, 1]


def test_indices_through_wrappers(tiny_fmnist, tmp_path):
    init_default_scope('selfemb')
    source = dict(type='FashionMNIST', data_root=str(tiny_fmnist), split='test')
    with pytest.raises(IndicesError, match=r'indices=33 .* only 32'):
        DATASETS.build(dict(source, device='cpu', indices=33))
    assert len(DATASETS.build(dict(source, device='cpu', indices=32))) == 32
    index_file = tmp_path / 'rows.txt'
    index_file.write_text('0\n32\n')
    with pytest.raises(IndicesError, match=re.escape(str(index_file)) + r'.*FashionMNIST.*'
                       r'indices\[1\]=32 is outside its 32 samples'):
        DATASETS.build(dict(source, filter_cfg=dict(index_file=str(index_file))))
