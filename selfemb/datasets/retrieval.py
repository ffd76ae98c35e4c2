"""Unseen-category retrieval benchmarks (Song et al. 2016; ISIF Sec. 4.2): the first half
of the classes trains, the other half (never seen) is the Recall@K / NMI test set.

Every source yields ``dict(img_path, gt_label)`` entries (label = class id - 1, kept
global so train and test labels never collide) for ``mmpretrain.LoadImageFromFile``.
``split='all'`` keeps every class.
"""
import os.path as osp
from typing import List, Tuple

from selfemb.registry import DATASETS

from .base import missing_file_error
from .image_list import ImageList

HINT = 'See docs/evaluation.md (Recall@K) for the expected layout.'


class _ClassSplitList(ImageList):
    """An image list whose split is a range of 1-based class ids."""

    SPLITS: dict = {}

    def __init__(self, data_root: str = '', split: str = 'train', **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'{type(self).__name__}: unknown split {split!r}, expected one '
                             f'of {sorted(self.SPLITS)}')
        self.split = split
        kwargs.setdefault('ann_file', '')
        super().__init__(data_root=data_root, **kwargs)

    def _path(self, name: str) -> str:
        path = osp.join(self.data_root, name)
        if not osp.isfile(path):
            raise missing_file_error(path, HINT)
        return path

    def _read(self) -> List[Tuple[str, int]]:
        """``(path relative to data_root, 1-based class id)`` of every image."""
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        first, last = self.SPLITS[self.split]
        entries = [dict(img_path=osp.join(self.data_root, rel), gt_label=cls - 1)
                   for rel, cls in self._read() if first <= cls <= last]
        self._check(entries, f'{type(self).__name__} split {self.split!r} under '
                             f'{self.data_root!r}')
        return entries


def _lines(path: str, fields: int) -> List[List[str]]:
    rows = []
    with open(path) as f:
        for num, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens:
                continue
            if len(tokens) != fields:
                raise ValueError(f'{path}:{num}: expected {fields} fields, got {line.strip()!r}')
            rows.append(tokens)
    return rows


def _int(path: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f'{path}: expected an integer, got {value!r}') from None


@DATASETS.register_module()
class CUB200(_ClassSplitList):
    """CUB-200-2011 (Wah et al. 2011): ``data_root/images.txt`` (``<image id> <path>``),
    ``image_class_labels.txt`` (``<image id> <class id 1..200>``), images under
    ``data_root/images/``. Splits: train = classes 1-100, test = 101-200."""

    SPLITS = dict(train=(1, 100), test=(101, 200), all=(1, 200))

    def _read(self) -> List[Tuple[str, int]]:
        images_txt, labels_txt = self._path('images.txt'), self._path('image_class_labels.txt')
        paths = {i: p for i, p in _lines(images_txt, 2)}
        labels = {i: _int(labels_txt, c) for i, c in _lines(labels_txt, 2)}
        if set(paths) != set(labels):
            raise ValueError(f'{images_txt} and {labels_txt} list different image ids')
        return [(osp.join('images', paths[i]), labels[i]) for i in paths]


@DATASETS.register_module()
class Cars196(_ClassSplitList):
    """Stanford Cars (Krause et al. 2013) from ``data_root/cars_annos.mat``: a struct
    array ``annotations`` with ``relative_im_path`` (``car_ims/000001.jpg``, relative to
    data_root) and ``class`` (1..196); the official train/test flag is ignored, as in the
    unseen-class protocol. Splits: train = classes 1-98, test = 99-196."""

    SPLITS = dict(train=(1, 98), test=(99, 196), all=(1, 196))

    def _read(self) -> List[Tuple[str, int]]:
        from scipy.io import loadmat
        path = self._path('cars_annos.mat')
        try:
            annos = loadmat(path, squeeze_me=True)['annotations']
            return [(str(a['relative_im_path']), int(a['class'])) for a in annos.reshape(-1)]
        except Exception as e:  # not a .mat file (scipy's MatReadError), missing fields
            raise ValueError(f'{path}: expected a struct array "annotations" with fields '
                             f'relative_im_path and class ({e!r})') from e


@DATASETS.register_module()
class StanfordOnlineProducts(_ClassSplitList):
    """Stanford Online Products (Song et al. 2016): ``data_root/Ebay_train.txt`` and
    ``Ebay_test.txt`` with a header line then ``image_id class_id super_class_id path``.
    The files already split the classes (train 1-11318, test 11319-22634)."""

    SPLITS = dict(train=(1, 11318), test=(11319, 22634))

    def _read(self) -> List[Tuple[str, int]]:
        path = self._path(f'Ebay_{self.split}.txt')
        rows = _lines(path, 4)
        if not rows or rows[0][0] != 'image_id':
            raise ValueError(f'{path}: expected the header "image_id class_id super_class_id '
                             'path"')
        return [(p, _int(path, c)) for _, c, _, p in rows[1:]]
