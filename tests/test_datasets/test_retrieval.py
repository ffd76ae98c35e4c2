"""CUB-200-2011, Cars196 and Stanford Online Products read tiny files in their real layouts."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from selfemb.datasets import CUB200, Cars196, StanfordOnlineProducts

RNG = np.random.default_rng(5)


def image(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), RNG.integers(0, 256, (12, 10, 3), np.uint8))
    return str(path)


def write_cub(root: Path, classes=(1, 2, 100, 101, 150, 200)) -> Path:
    """images.txt / image_class_labels.txt / images/<class folder>/<name>.jpg"""
    ids, labels = [], []
    for i, c in enumerate(classes, 1):
        rel = f'{c:03d}.Bird_{c}/Bird_{c}_{i}.jpg'
        image(root / 'images' / rel)
        ids.append(f'{i} {rel}')
        labels.append(f'{i} {c}')
    (root / 'images.txt').write_text('\n'.join(ids) + '\n')
    (root / 'image_class_labels.txt').write_text('\n'.join(labels) + '\n')
    return root


def write_cars(root: Path, classes=(1, 98, 99, 196, 5)) -> Path:
    """cars_annos.mat: struct array 'annotations' (relative_im_path, bbox_*, class, test)."""
    from scipy.io import savemat
    fields = ['relative_im_path', 'bbox_x1', 'bbox_y1', 'bbox_x2', 'bbox_y2', 'class', 'test']
    annos = np.zeros((1, len(classes)), dtype=[(f, 'O') for f in fields])
    for i, c in enumerate(classes):
        rel = f'car_ims/{i + 1:06d}.jpg'
        image(root / rel)
        annos[0, i] = (rel, 1, 1, 9, 9, np.uint8(c), np.uint8(i % 2))
    savemat(str(root / 'cars_annos.mat'), dict(annotations=annos))
    return root


def write_sop(root: Path) -> Path:
    """Ebay_train.txt / Ebay_test.txt with their header and 4 columns."""
    for split, classes in (('train', (1, 1, 11318)), ('test', (11319, 22634))):
        lines = ['image_id class_id super_class_id path']
        for i, c in enumerate(classes, 1):
            rel = f'bicycle_final/{split}_{i}.JPG'
            image(root / rel)
            lines.append(f'{i} {c} 1 {rel}')
        (root / f'Ebay_{split}.txt').write_text('\n'.join(lines) + '\n')
    return root


def test_cub_class_split(tmp_path):
    root = write_cub(tmp_path)
    train, test = CUB200(str(root), split='train'), CUB200(str(root), split='test')
    assert train.get_gt_labels().tolist() == [0, 1, 99]
    assert test.get_gt_labels().tolist() == [100, 149, 199]
    assert test.get_data_info(0)['img_path'] == str(root / 'images/101.Bird_101/Bird_101_4.jpg')
    assert len(CUB200(str(root), split='all')) == 6


def test_cars_class_split(tmp_path):
    root = write_cars(tmp_path)
    train, test = Cars196(str(root), split='train'), Cars196(str(root), split='test')
    assert train.get_gt_labels().tolist() == [0, 97, 4]
    assert test.get_gt_labels().tolist() == [98, 195]
    assert train.get_data_info(1)['img_path'] == str(root / 'car_ims/000002.jpg')


def test_sop_splits(tmp_path):
    root = write_sop(tmp_path)
    assert StanfordOnlineProducts(str(root), split='train').get_gt_labels().tolist() == [
        0, 0, 11317]
    test = StanfordOnlineProducts(str(root), split='test')
    assert test.get_gt_labels().tolist() == [11318, 22633]
    assert test.get_data_info(1)['img_path'] == str(root / 'bicycle_final/test_2.JPG')


def test_retrieval_sources_name_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match='images.txt'):
        CUB200(str(tmp_path), split='train')
    with pytest.raises(ValueError, match="unknown split 'val'"):
        CUB200(str(tmp_path), split='val')
    (tmp_path / 'cars_annos.mat').write_bytes(b'not a mat file')
    with pytest.raises(ValueError):
        Cars196(str(tmp_path))
    (tmp_path / 'Ebay_train.txt').write_text('1 2 3 a.jpg\n')
    with pytest.raises(ValueError, match='header'):
        StanfordOnlineProducts(str(tmp_path))
