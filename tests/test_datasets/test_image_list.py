"""ImageList / ImageFolder on a few small image files."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from selfemb.datasets.image_list import ImageFolder, ImageList
from selfemb.registry import DATASETS

RNG = np.random.default_rng(4)
BGR = [RNG.integers(0, 256, (20 + i, 24, 3), dtype=np.uint8) for i in range(3)]


def write_images(root):
    names = ['n01/a.png', 'n01/b.png', 'n02/sub/c.JPEG']
    for name, img in zip(names, BGR):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(root / name), img)
    return names


@pytest.fixture
def listed(tmp_path):
    names = write_images(tmp_path / 'train')
    (tmp_path / 'meta').mkdir()
    (tmp_path / 'meta' / 'train.txt').write_text(
        f'# ImageNet-style list\n{names[0]} 0\n\n  {names[1]} 1  \n{names[2]}\n')
    return tmp_path, names


def test_list_entries_and_labels(listed):
    root, names = listed
    ds = ImageList(data_root=str(root), ann_file='meta/train.txt',
                   data_prefix=dict(img_path='train'))
    assert len(ds) == 3
    info = ds.get_data_info(1)
    assert info['img_path'] == osp.join(str(root), 'train', names[1])
    assert info['gt_label'] == 1 and info['sample_idx'] == 1
    np.testing.assert_array_equal(ds.get_gt_labels(), [0, 1, -1])
    sub = ImageList(data_root=str(root / 'train'), ann_file=str(root / 'meta' / 'train.txt'),
                    indices=[2, 0])
    assert sub.get_data_info(0)['img_path'] == osp.join(str(root / 'train'), names[2])
    np.testing.assert_array_equal(sub.get_gt_labels(), [-1, 0])


def test_pipeline_loads_files(listed):
    root, _ = listed
    init_default_scope('selfemb')
    pipeline = [dict(type='mmpretrain.LoadImageFromFile'),
                dict(type='mmpretrain.PackInputs')]
    ds = DATASETS.build(dict(type='ImageList', data_root=str(root / 'train'),
                             ann_file=str(root / 'meta' / 'train.txt'), pipeline=pipeline))
    for i in (0, 1):  # PNG is lossless: exactly what was written (BGR, as cv2 reads)
        out = ds[i]
        np.testing.assert_array_equal(out['inputs'].permute(1, 2, 0).numpy(), BGR[i])
        assert out['data_samples'].sample_idx == i
        assert out['data_samples'].img_path == ds.get_data_info(i)['img_path']
    jpeg = ds[2]['inputs']
    assert jpeg.shape == (3, 22, 24) and jpeg.dtype == torch.uint8
    assert ds[2]['data_samples'].gt_label.tolist() == [-1]


@pytest.mark.parametrize('text,match', [('a.png 1 2\n', ':1: expected'),
                                        ('# c\na.png cat\n', ':2: expected'),
                                        ('a.png --1\n', ':1: expected'),
                                        ('# only a comment\n\n', 'no images'),
                                        ('a.png 3\n', 'label 3 .* out of range'),
                                        ('a.png -2\n', 'label -2 .* out of range')])
def test_bad_lists(tmp_path, text, match):
    (tmp_path / 'list.txt').write_text(text)
    cv2.imwrite(str(tmp_path / 'a.png'), BGR[0])
    with pytest.raises(ValueError, match=match) as err:
        ImageList(data_root=str(tmp_path), ann_file='list.txt',
                  metainfo=dict(classes=('x', 'y', 'z')))
    if 'expected' in match:
        assert str(tmp_path / 'list.txt') in str(err.value)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        ImageList(data_root=str(tmp_path), ann_file='nope.txt')
    (tmp_path / 'list.txt').write_text('gone.png 0\n')
    with pytest.raises(FileNotFoundError, match=str(tmp_path / 'gone.png')):
        ImageList(data_root=str(tmp_path), ann_file='list.txt')
    with pytest.raises(ValueError, match='needs ann_file'):
        ImageList(data_root=str(tmp_path))


def test_image_folder(tmp_path):
    write_images(tmp_path)
    (tmp_path / 'n02' / 'notes.txt').write_text('not an image')
    (tmp_path / 'n01' / 'z.bmp').write_bytes(b'')  # filtered out by extensions below
    ds = ImageFolder(data_root=str(tmp_path), extensions=('.png', '.jpeg'))
    assert ds.metainfo['classes'] == ('n01', 'n02')
    assert [osp.relpath(ds.get_data_info(i)['img_path'], tmp_path) for i in range(3)] == [
        'n01/a.png', 'n01/b.png', 'n02/sub/c.JPEG']
    np.testing.assert_array_equal(ds.get_gt_labels(), [0, 0, 1])
    assert len(ImageFolder(data_root=str(tmp_path))) == 4  # .bmp is a default extension
    rev = ImageFolder(data_root=str(tmp_path), metainfo=dict(classes=('n02', )))
    np.testing.assert_array_equal(rev.get_gt_labels(), [0])
    assert rev.get_data_info(0)['img_path'].endswith('c.JPEG')


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        ImageFolder(data_root=str(tmp_path / 'nowhere'))
    (tmp_path / 'empty_class').mkdir()
    with pytest.raises(ValueError, match='no images'):
        ImageFolder(data_root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match='class folder .*n07'):
        ImageFolder(data_root=str(tmp_path), metainfo=dict(classes=('n07', )))
