"""PASCAL VOC2007 image-level multi-label targets for the SVM benchmark."""
import os.path as osp
from typing import List, Tuple

import numpy as np

from selfemb.registry import DATASETS

from .base import missing_file_error
from .image_list import ImageList

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
               'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant',
               'sheep', 'sofa', 'train', 'tvmonitor')
HINT = ('data_root is VOCdevkit/VOC2007 (ImageSets/Main/*.txt, JPEGImages/); see '
        'docs/evaluation.md.')


def read_voc07_targets(root: str, split: str = 'trainval') -> Tuple[List[str], np.ndarray]:
    """Image ids of ``ImageSets/Main/<split>.txt`` (in that order) and their (N, 20) int8
    VOC labels from ``ImageSets/Main/<class>_<split>.txt`` (``<id> <label>`` lines,
    label 1 present, -1 absent, 0 difficult)."""
    main = osp.join(root, 'ImageSets', 'Main')
    list_file = osp.join(main, f'{split}.txt')
    if not osp.isfile(list_file):
        raise missing_file_error(list_file, HINT)
    with open(list_file) as f:
        ids = [line.strip() for line in f if line.strip()]
    if not ids:
        raise ValueError(f'{list_file}: no image ids')
    row = {image_id: i for i, image_id in enumerate(ids)}
    targets = np.full((len(ids), len(VOC_CLASSES)), 2, np.int8)  # 2 = not listed yet
    for c, name in enumerate(VOC_CLASSES):
        path = osp.join(main, f'{name}_{split}.txt')
        if not osp.isfile(path):
            raise missing_file_error(path, HINT)
        with open(path) as f:
            for num, line in enumerate(f, 1):
                tokens = line.split()
                if not tokens:
                    continue
                if len(tokens) != 2 or tokens[0] not in row or tokens[1] not in ('1', '-1', '0'):
                    raise ValueError(f'{path}:{num}: expected "<id from {split}.txt> 1|-1|0", '
                                     f'got {line.strip()!r}')
                targets[row[tokens[0]], c] = int(tokens[1])
        missing = np.flatnonzero(targets[:, c] == 2)
        if len(missing):
            raise ValueError(f'{path}: no label for image {ids[missing[0]]} '
                             f'(and {len(missing) - 1} more)')
    return ids, targets


@DATASETS.register_module()
class VOC07Classification(ImageList):
    """VOC2007 images of ``split`` (``trainval`` or ``test``) in the order of
    ``ImageSets/Main/<split>.txt``, loaded from ``JPEGImages/<id>.jpg``. ``gt_label`` is -1
    (the task is multi-label); :meth:`get_targets` gives the (N, 20) VOC label matrix of
    this (sub)set, for :func:`selfemb.evaluation.train_eval_svm`."""

    METAINFO = dict(classes=VOC_CLASSES)

    def __init__(self, data_root: str = '', split: str = 'trainval', **kwargs) -> None:
        self.split = split
        kwargs.setdefault('ann_file', '')
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        ids, self._targets = read_voc07_targets(self.data_root, self.split)
        entries = [dict(img_path=osp.join(self.data_root, 'JPEGImages', f'{i}.jpg'),
                        gt_label=-1, target_row=r) for r, i in enumerate(ids)]
        self._check(entries, f'VOC2007 {self.split} under {self.data_root!r}')
        return entries

    def get_targets(self) -> np.ndarray:
        """(N, 20) int8 VOC labels of this (sub)set in index order."""
        return self._targets[self._field('target_row')]
