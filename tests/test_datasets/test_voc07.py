"""VOC2007 multi-label targets from ImageSets/Main/<class>_<split>.txt."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from selfemb.datasets import VOC07Classification, read_voc07_targets
from selfemb.datasets.voc07 import VOC_CLASSES


def write_voc07(root: Path, split: str = 'trainval', ids=('000005', '000007', '000009'),
                seed: int = 0) -> np.ndarray:
    """ImageSets/Main/{split}.txt, {class}_{split}.txt and JPEGImages/<id>.jpg."""
    rng = np.random.default_rng(seed)
    main = root / 'ImageSets' / 'Main'
    main.mkdir(parents=True, exist_ok=True)
    (root / 'JPEGImages').mkdir(exist_ok=True)
    (main / f'{split}.txt').write_text('\n'.join(ids) + '\n')
    targets = rng.choice([1, -1, 0], size=(len(ids), 20)).astype(np.int8)
    targets[0] = 1  # every class has a positive
    for c, name in enumerate(VOC_CLASSES):
        (main / f'{name}_{split}.txt').write_text(
            ''.join(f'{i} {t:2d}\n' for i, t in zip(ids, targets[:, c])))
    for i in ids:
        cv2.imwrite(str(root / 'JPEGImages' / f'{i}.jpg'), rng.integers(0, 256, (8, 8, 3),
                                                                         np.uint8))
    return targets


def test_read_targets_and_dataset(tmp_path):
    targets = write_voc07(tmp_path)
    ids, read = read_voc07_targets(str(tmp_path), 'trainval')
    assert ids == ['000005', '000007', '000009'] and read.dtype == np.int8
    assert (read == targets).all()
    ds = VOC07Classification(str(tmp_path), split='trainval', indices=[2, 0])
    assert (ds.get_targets() == targets[[2, 0]]).all()
    assert ds.get_data_info(0)['img_path'] == str(tmp_path / 'JPEGImages' / '000009.jpg')
    assert ds.get_gt_labels().tolist() == [-1, -1]


def test_bad_voc_files_name_the_file(tmp_path):
    write_voc07(tmp_path)
    with pytest.raises(FileNotFoundError, match='test.txt'):
        read_voc07_targets(str(tmp_path), 'test')
    path = tmp_path / 'ImageSets' / 'Main' / 'dog_trainval.txt'
    path.write_text('000005 1\n000007 2\n000009 -1\n')
    with pytest.raises(ValueError, match='dog_trainval.txt:2'):
        read_voc07_targets(str(tmp_path))
    path.write_text('000005 1\n')
    with pytest.raises(ValueError, match='no label for image 000007'):
        read_voc07_targets(str(tmp_path))
