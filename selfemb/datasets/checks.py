"""Data errors that name their cause: subset ``indices`` out of range, unloadable samples."""
import os.path as osp
from numbers import Integral
from typing import Any, Callable, List, Sequence, Union

import numpy as np

from selfemb.utils.errors import SampleLoadError


class IndicesError(ValueError):
    """``indices`` that select rows a data source does not have."""


def checked_indices(source: str, length: int,
                    indices: Union[int, Sequence[int], np.ndarray]) -> Union[int, List[int]]:
    """``indices`` as an int or a list of ints, each within ``length`` rows of ``source``.

    An int ``n`` keeps the first ``n`` rows (the last ``-n`` when negative), so
    ``|n| <= length``; a sequence lists rows, each in ``[-length, length)``. mmengine
    would silently clamp a too-large int and fail a bad row with a bare error.
    """
    if isinstance(indices, Integral) and not isinstance(indices, bool):
        n = int(indices)
        if abs(n) > length:
            wanted = f'the first {n}' if n >= 0 else f'the last {-n}'
            raise IndicesError(f'{source}: indices={n} asks for {wanted} samples but it has '
                               f'only {length}; use |indices| <= {length} or drop indices')
        return n
    if isinstance(indices, (str, bytes)) or not isinstance(indices, (Sequence, np.ndarray)):
        raise TypeError(f'{source}: indices must be an int or a list of ints, '
                        f'got {indices!r}')
    try:
        rows = np.asarray(indices)
    except ValueError:  # ragged nesting
        rows = np.asarray([None])
    if rows.size and (rows.ndim != 1 or rows.dtype.kind not in 'iu'):
        pos = next((i for i, r in enumerate(indices)
                    if not isinstance(r, Integral) or isinstance(r, bool)), 0)
        raise TypeError(f'{source}: indices[{pos}]={indices[pos]!r} is not an integer '
                        '(indices must be an int or a flat list of ints)')
    bad = np.flatnonzero((rows < -length) | (rows >= length)) if rows.size else []
    if len(bad):
        pos = int(bad[0])
        raise IndicesError(f'{source}: indices[{pos}]={int(rows[pos])} is outside its {length} '
                           f'samples (valid rows: 0..{length - 1}, or negative from the end); '
                           'fix the index list')
    return rows.tolist()


def _file_state(path: str) -> str:
    """Why a file may have failed to load, as a sentence ('' when nothing is obvious)."""
    if not osp.exists(path):
        return 'The file does not exist. '
    if osp.isfile(path) and osp.getsize(path) == 0:
        return 'The file is empty (0 bytes). '
    return ''


def _what_to_do(info: dict) -> str:
    path = info.get('img_path')
    if path is None:
        return 'Check the pipeline in the config.'
    return (f'{_file_state(path)}Remove or replace this file (or drop it from the image '
            'list), then run again; if the file is a valid image, check the pipeline.')


def _sample_name(source: str, idx: int, info: dict) -> str:
    path = info.get('img_path')
    where = f'file {path}' if path is not None else f'img_idx={info.get("img_idx")}'
    return f'{source}: sample {idx} ({where})'


def run_pipeline(pipeline: Callable, info: dict, idx: int, source: Callable[[], str]) -> Any:
    """``pipeline(info)`` transform by transform (as mmengine's ``Compose``), turning a
    failure or a ``None`` (a rejected sample, which mmengine would silently replace by a
    random other one) into a :class:`SampleLoadError` that names sample ``idx`` of the
    dataset ``source()`` (called only then)."""
    transforms = getattr(pipeline, 'transforms', None)
    data = info
    for transform in transforms if isinstance(transforms, list) else [pipeline]:
        name = getattr(transform, '__name__', None) or type(transform).__name__
        try:
            data = transform(data)
        except Exception as e:
            raise SampleLoadError(
                f'{_sample_name(source(), idx, info)} failed in {name}: '
                f'{type(e).__name__}: {str(e).strip()}. {_what_to_do(info)}') from e
        if data is None:
            raise SampleLoadError(
                f'{_sample_name(source(), idx, info)}: {name} returned None (it rejected the '
                'sample, e.g. LoadImageFromFile(ignore_empty=True) on an unreadable file); '
                f'samples are never skipped silently. {_what_to_do(info)}')
    return data


def missing_file_error(path: str, hint: str) -> FileNotFoundError:
    """A ``FileNotFoundError`` that names ``path`` and says how to get the data."""
    return FileNotFoundError(f'{path} not found. {hint}')
