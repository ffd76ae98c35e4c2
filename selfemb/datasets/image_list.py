"""File-based data sources: an image list file (ImageNet style) and a class-folder tree."""
import os
import os.path as osp
import re
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset

from selfemb.registry import DATASETS

from .base import FieldCacheMixin, missing_file_error

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')
HINT = 'Check data_root / ann_file / data_prefix; see docs/data_preparation.md.'


@DATASETS.register_module()
class ImageList(FieldCacheMixin, BaseDataset):
    """Images listed in a text file, loaded from disk by the pipeline.

    One image per line: ``relative/path.JPEG [label]``, the path relative to
    ``data_prefix['img_path']`` (default ``data_root``) and an optional integer label
    (absent: -1, e.g. ImageNet-100 for unsupervised training). Blank lines and lines
    starting with ``#`` are skipped; paths may not contain spaces. Entries are
    ``dict(img_path, gt_label)``, so the pipeline starts with
    ``dict(type='mmpretrain.LoadImageFromFile')``. Only the first image is checked to
    exist at start-up (a wrong root fails at once); a missing later one fails when loaded,
    with a ``SampleLoadError`` that names it (as does an empty or corrupt image).

    Args:
        data_root: root of the images (and of a relative ``ann_file``).
        ann_file: the list file.
        **kwargs: ``mmengine.dataset.BaseDataset`` arguments (pipeline, indices,
            data_prefix, metainfo=dict(classes=...) to name / bound the labels, ...).
    """

    def __init__(self, data_root: str = '', ann_file: str = '', **kwargs) -> None:
        kwargs.setdefault('data_prefix', dict(img_path=''))
        super().__init__(data_root=data_root, ann_file=ann_file, **kwargs)

    def _entry(self, rel_path: str, label: int) -> dict:
        return dict(img_path=osp.join(self.data_prefix['img_path'], rel_path), gt_label=label)

    def _parse(self, path: str) -> List[dict]:
        try:
            with open(path) as f:
                lines = f.readlines()
        except UnicodeDecodeError as e:
            raise ValueError(f'{path}: not a text image list ({e}); ann_file must hold '
                             '"relative/path [label]" lines') from e
        entries = []
        for num, line in enumerate(lines, 1):
            tokens = line.split()
            if not tokens or tokens[0].startswith('#'):
                continue
            label: Optional[int] = -1
            if len(tokens) == 2:
                label = int(tokens[1]) if re.fullmatch(r'-?\d+', tokens[1]) else None
            if len(tokens) > 2 or label is None:
                raise ValueError(f'{path}:{num}: expected "relative/path [int label]", '
                                 f'got {line.strip()!r}')
            entries.append(self._entry(tokens[0], label))
        return entries

    def _check(self, entries: List[dict], source: str) -> None:
        if not entries:
            raise ValueError(f'{type(self).__name__}: no images in {source}')
        classes = self._metainfo.get('classes')
        for entry in entries:
            if entry['gt_label'] < -1 or (classes and entry['gt_label'] >= len(classes)):
                raise ValueError(f'{source}: label {entry["gt_label"]} of '
                                 f'{entry["img_path"]} is out of range')
        if not osp.isfile(entries[0]['img_path']):
            raise missing_file_error(f'image {entries[0]["img_path"]} (listed in {source})',
                                     HINT)

    def load_data_list(self) -> List[dict]:
        if not self.ann_file:
            raise ValueError('ImageList needs ann_file, the image list')
        if not osp.isfile(self.ann_file):
            raise missing_file_error(f'image list {self.ann_file}', HINT)
        entries = self._parse(self.ann_file)
        self._check(entries, self.ann_file)
        return entries


@DATASETS.register_module()
class ImageFolder(ImageList):
    """Images in class sub-folders: ``data_root/<class>/**/<image>``.

    Classes are the sorted sub-folder names (label = position), or the given
    ``metainfo=dict(classes=...)`` in that order (other folders are ignored). Files whose
    extension (case-insensitive) is not in ``extensions`` are skipped; files are sorted.
    A class folder without images is an error that names it.
    """

    def __init__(self, data_root: str = '', extensions: Sequence[str] = IMG_EXTENSIONS,
                 metainfo: Optional[dict] = None, **kwargs) -> None:
        self.extensions = tuple(ext.lower() for ext in extensions)
        root = osp.join(data_root, kwargs.get('data_prefix', {}).get('img_path', ''))
        if not osp.isdir(root):
            raise missing_file_error(f'image folder {root}', HINT)
        metainfo = dict(metainfo or {})
        if not metainfo.get('classes'):
            metainfo['classes'] = tuple(sorted(
                e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith('.')))
        super().__init__(data_root=data_root, metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        root = self.data_prefix['img_path']
        if not self._metainfo['classes']:
            raise ValueError(f'ImageFolder: no class sub-folders in {root}; put the images in '
                             f'{osp.join(root, "<class>")}/ (one folder per class)')
        entries, empty = [], []
        for label, name in enumerate(self._metainfo['classes']):
            folder = osp.join(root, name)
            if not osp.isdir(folder):
                raise missing_file_error(f'class folder {folder}', HINT)
            files = []
            for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
                dirnames.sort()
                files += [osp.join(dirpath, f) for f in filenames
                          if f.lower().endswith(self.extensions)]
            if not files:
                empty.append(folder)
            entries += [dict(img_path=f, gt_label=label) for f in sorted(files)]
        if empty and entries:
            raise ValueError(f'ImageFolder: class folder(s) {empty} hold no images (extensions '
                             f'{self.extensions}); add images, delete the folder(s), or pick '
                             'the classes to use with metainfo=dict(classes=[...])')
        self._check(entries, f'image folder {root} (extensions {self.extensions})')
        return entries
