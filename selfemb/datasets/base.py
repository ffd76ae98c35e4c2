"""Base classes of the data sources: fast field access, checked subsets and sample loading,
in-memory image arrays."""
import os.path as osp
import pickle
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset

from .checks import IndicesError, checked_indices, missing_file_error, run_pipeline
from .device import DeviceResidentMixin
from .long_tail import long_tail_indices
from .subset import read_index_file

FILTER_KEYS = ('classes', 'long_tail', 'index_file')
LONG_TAIL_KEYS = ('imbalance_ratio', 'num_classes', 'max_per_class')


def first_existing(root: str, names: Sequence[str], hint: str) -> str:
    """The first of ``root/name`` that exists, else an error that lists them all."""
    paths = [osp.join(root, name) for name in names]
    for path in paths:
        if osp.exists(path):
            return path
    raise missing_file_error(' or '.join(paths), hint)


class FieldCacheMixin:
    """Shared behaviour of every data source on top of mmengine's ``BaseDataset``.

    Reads one field of every data-list entry at once (:meth:`_field`, cached until the list
    changes): ``get_data_info`` deep-copies (or unpickles) an entry and is meant for one
    item, whole-dataset queries (labels for kNN, image rows for the device path) use
    :meth:`_field`. ``indices`` (in the constructor, ``get_subset`` and ``get_subset_``)
    out of range is an error instead of mmengine's silent clamp. A sample whose loading or
    transform fails, or that a transform rejects (``None``, which mmengine would replace by
    a random other sample), raises ``SampleLoadError`` naming the dataset, index and file.
    """

    _field_cache: Dict[str, np.ndarray]

    def _field(self, key: str) -> np.ndarray:
        self.full_init()
        cache = self._field_cache
        if key not in cache:
            if self.serialize_data:
                ends = self.data_address.tolist()
                starts = [0] + ends[:-1]
                view = memoryview(self.data_bytes)
                values = [pickle.loads(view[s:e])[key] for s, e in zip(starts, ends)]
            else:
                values = [info[key] for info in self.data_list]
            cache[key] = np.asarray(values, dtype=np.int64).reshape(-1)
            cache[key].setflags(write=False)
        return cache[key]

    def full_init(self) -> None:
        """``BaseDataset.full_init`` with an emptiness check before serialising."""
        if self._fully_initialized:
            return
        self._field_cache = {}
        self.data_list = self.load_data_list()
        self.data_list = self.filter_data()
        if self._indices is not None:
            self.data_list = self._get_unserialized_subset(self._indices)
        if not self.data_list:
            raise ValueError(f'{type(self).__name__}: no samples under {self.data_root!r} '
                             f'(ann_file={self.ann_file!r}, filter_cfg={self.filter_cfg!r}, '
                             f'indices={self._indices!r})')
        if self.serialize_data:
            self.data_bytes, self.data_address = self._serialize_data()
        self._fully_initialized = True

    def _source_name(self) -> str:
        """``Type(data_root=..., ann_file=..., split=...)`` for error messages."""
        parts = [f'data_root={self.data_root!r}']
        for key in ('ann_file', 'split'):
            if getattr(self, key, ''):
                parts.append(f'{key}={getattr(self, key)!r}')
        if self.filter_cfg:
            parts.append(f'filter_cfg={self.filter_cfg!r}')
        return f'{type(self).__name__}({", ".join(parts)})'

    def _get_unserialized_subset(self, indices: Union[Sequence[int], int]) -> list:
        indices = checked_indices(self._source_name(), len(self.data_list), indices)
        return super()._get_unserialized_subset(indices)

    def _get_serialized_subset(self, indices: Union[Sequence[int], int]
                               ) -> Tuple[np.ndarray, np.ndarray]:
        num = len(self.data_address)
        indices = checked_indices(self._source_name(), num, indices)
        if not isinstance(indices, int):
            return super()._get_serialized_subset(indices)
        # rows [lo, hi); mmengine's own version fails on indices == len or -len
        lo, hi = (0, indices) if indices >= 0 else (num + indices, num)
        start = int(self.data_address[lo - 1]) if lo > 0 else 0
        end = int(self.data_address[hi - 1]) if hi > 0 else 0
        return self.data_bytes[start:end], self.data_address[lo:hi] - start

    def prepare_data(self, idx: int) -> Any:
        """The pipeline applied to entry ``idx``; failures name the sample (see class doc)."""
        return run_pipeline(self.pipeline, self.get_data_info(idx), idx, self._source_name)

    def filter_data(self) -> List[dict]:
        """Apply ``filter_cfg`` (before ``indices``, which then select from what is kept):

        * ``classes``: keep only the entries whose ``gt_label`` is listed (e.g.
          ``dict(classes=[0, 1, 2, 3, 4])`` for an unseen-class split); labels are kept.
        * ``long_tail``: keep a long-tailed subset, ``dict(imbalance_ratio=100)`` and
          optionally ``num_classes`` / ``max_per_class`` (see :mod:`.long_tail`): the
          first ``n_c`` entries of each class ``c``, in index order.
        * ``index_file``: keep the rows listed in a text file (a semi-supervised label
          subset, see :func:`.subset.read_index_file`), in the file's order; the rows are
          positions after ``classes`` and ``long_tail``. A row outside them is an
          ``IndicesError`` that names the file.

        Without ``filter_cfg`` every entry is kept.
        """
        cfg = self.filter_cfg or {}
        name = type(self).__name__
        unknown = set(cfg) - set(FILTER_KEYS)
        if unknown:
            raise ValueError(f'{name}: unknown filter_cfg keys {sorted(unknown)} '
                             f'(supported: {", ".join(FILTER_KEYS)})')
        data_list = self.data_list
        if cfg.get('classes') is not None:
            keep = {int(c) for c in cfg['classes']}
            data_list = [info for info in data_list if int(info['gt_label']) in keep]
        long_tail = cfg.get('long_tail')
        if long_tail is not None:
            if not isinstance(long_tail, dict) or set(long_tail) - set(LONG_TAIL_KEYS):
                raise ValueError(f'{name}: filter_cfg.long_tail must be a dict of '
                                 f'{LONG_TAIL_KEYS}, got {long_tail!r}')
            labels = [int(info['gt_label']) for info in data_list]
            rows = long_tail_indices(np.asarray(labels, np.int64), **long_tail)
            data_list = [data_list[i] for i in rows.tolist()]
        index_file = cfg.get('index_file')
        if index_file is not None:
            rows = read_index_file(index_file)
            try:
                rows = checked_indices(self._source_name(), len(data_list), rows)
            except IndicesError as e:
                raise IndicesError(f'{index_file}: an index is outside {name}: {e}') from e
            data_list = [data_list[i] for i in rows]
        return data_list

    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        super().get_subset_(indices)
        self._field_cache = {}

    def get_subset(self, indices: Union[Sequence[int], int]) -> BaseDataset:
        subset = super().get_subset(indices)
        subset._field_cache = {}
        return subset

    def get_gt_labels(self) -> np.ndarray:
        """Labels of this (sub)set in index order (int64, -1 where unknown)."""
        return self._field('gt_label').copy()


class InMemoryDataset(DeviceResidentMixin, FieldCacheMixin, BaseDataset):
    """A data source whose images fit in memory as one ``N x H x W x C`` uint8 array (RGB).

    Subclasses implement :meth:`load_arrays` and list their valid ``SPLITS``. Each entry of
    the data list keeps only the row of its image (``img_idx``) and its ``gt_label`` (-1
    when unknown), so subsets (``indices=N``) are cheap and :meth:`get_images` hands the
    whole (sub)set to the device-resident path in one array. ``sample_idx`` (the
    position in this dataset, after subsetting) is added by ``BaseDataset.get_data_info``;
    ``get_data_info`` adds ``img``, a private copy of the image. ``device='auto'`` (or a
    torch device string) serves the whole (sub)set from device memory instead of the
    pipeline (:class:`~selfemb.datasets.device.DeviceResidentMixin`).
    """

    SPLITS: Tuple[str, ...] = ()

    def __init__(self, data_root: str = '', split: str = 'train',
                 device: Optional[str] = None, **kwargs) -> None:
        self.use_device(device)
        if self.SPLITS and split not in self.SPLITS:
            raise ValueError(f'{type(self).__name__}: unknown split {split!r}, '
                             f'expected one of {self.SPLITS}')
        self.split = split
        self._images: np.ndarray = np.empty((0, 0, 0, 3), np.uint8)
        self._labels: np.ndarray = np.empty((0, ), np.int64)
        super().__init__(data_root=data_root, **kwargs)

    def load_arrays(self) -> Tuple[np.ndarray, np.ndarray]:
        """Return ``(images N x H x W x C uint8, labels N int64)`` for ``self.split``."""
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        images, labels = self.load_arrays()
        name = type(self).__name__
        if images.ndim != 4 or images.dtype != np.uint8:
            raise ValueError(f'{name}: expected N x H x W x C uint8 images, '
                             f'got shape {images.shape} dtype {images.dtype}')
        if len(images) != len(labels):
            raise ValueError(f'{name}: {len(images)} images but {len(labels)} labels '
                             f'under {self.data_root!r}')
        if len(images) == 0:
            raise ValueError(f'{name}: split {self.split!r} under {self.data_root!r} is empty')
        self._images, self._labels = images, np.asarray(labels, np.int64)
        return [dict(img_idx=i, gt_label=label) for i, label in enumerate(self._labels.tolist())]

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info['img'] = self._images[info['img_idx']].copy()
        return info

    def get_data_info_light(self, idx: int) -> int:
        """The image row of entry ``idx`` without copying the image."""
        return BaseDataset.get_data_info(self, idx)['img_idx']

    def get_image_rows(self) -> np.ndarray:
        """Row of each entry of this (sub)set in the full image array (read-only, cached)."""
        return self._field('img_idx')

    def get_images(self) -> np.ndarray:
        """All images of this (sub)set, in index order: ``N x H x W x C`` uint8 (a copy)."""
        rows = self.get_image_rows()  # first: it runs full_init when lazy
        return np.take(self._images, rows, axis=0)

    def get_gt_labels(self) -> np.ndarray:
        rows = self.get_image_rows()
        return self._labels[rows]

    def _copy_without_annotation(self, memo: Optional[dict] = None) -> BaseDataset:
        # subsets share the (read-only) image and label arrays instead of deep-copying them
        memo = {} if memo is None else memo
        memo[id(self._images)] = self._images
        memo[id(self._labels)] = self._labels
        return super()._copy_without_annotation(memo)
