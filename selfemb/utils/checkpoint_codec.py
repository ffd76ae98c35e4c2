"""Encode a training checkpoint into what ``torch.load(weights_only=True)`` accepts, and back.

mmengine's training checkpoints hold numpy arrays and scalars and the message hub's
``HistoryBuffer`` s, which ``weights_only`` refuses. :func:`encode_checkpoint` stores them
as marked dicts of tensors and numbers; :func:`decode_checkpoint` rebuilds the exact objects
(dtype, shape, numpy scalar type) without running code from the file. Used by
``SafeCheckpointHook`` (save) and :mod:`selfemb.utils.checkpoint` (load).
"""
from collections import Counter, OrderedDict
from typing import Any, Dict, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = ['encode_checkpoint', 'decode_checkpoint', 'register_checkpoint_class']

# --- encoding: what weights_only refuses, as marked dicts it accepts ----------------------
MARK = '__selfemb_encoded__'
_PLAIN = (str, int, float, bool, bytes, complex, type(None))  # exact types only
_TORCH = (torch.Tensor, torch.nn.Parameter, torch.Size, torch.device, torch.dtype)
_MAPPINGS = (dict, OrderedDict, Counter)  # Counter: MultiStepLR's milestones
_NUMPY_KINDS = 'biufcmMSU'  # numbers, dates, fixed-size strings; never objects
_CLASSES: Dict[str, Tuple[type, Sequence[str]]] = {}


def register_checkpoint_class(cls: type, drop: Sequence[str] = ()) -> type:
    """Let :func:`encode_checkpoint` store instances of ``cls`` as their ``__dict__``
    (less the ``drop`` keys) and :func:`decode_checkpoint` rebuild them (``__setstate__``
    if the class has one) without running any code from the file."""
    _CLASSES[f'{cls.__module__}.{cls.__qualname__}'] = (cls, tuple(drop))
    return cls


# its __getstate__ adds the class's statistics functions, which __setstate__ restores
register_checkpoint_class(HistoryBuffer, drop=('statistics_methods', ))


def _key(key: Any, path: str) -> Any:
    if type(key) in _PLAIN or (type(key) is tuple and all(type(k) in _PLAIN for k in key)):
        return key
    raise TypeError(f'checkpoint{path}: key {key!r} of type {type(key).__name__} cannot be '
                    'stored weights-only; use str / int keys')


def _numpy(value: Union[np.ndarray, np.generic], path: str) -> dict:
    if value.dtype.kind not in _NUMPY_KINDS:
        raise TypeError(f'checkpoint{path}: numpy dtype {value.dtype} cannot be stored '
                        'weights-only; convert it to numbers or a list')
    data = np.ascontiguousarray(value).tobytes()
    if isinstance(value, np.generic):
        return {MARK: 'numpy_scalar', 'dtype': value.dtype.str, 'data': data}
    return {MARK: 'ndarray', 'dtype': value.dtype.str, 'shape': list(value.shape),
            'data': torch.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())}


def _encode(value: Any, path: str) -> Any:
    kind = type(value)
    if kind in _PLAIN or kind in _TORCH:
        return value
    if kind is np.ndarray or isinstance(value, np.generic):
        return _numpy(value, path)
    if kind in _MAPPINGS:
        if MARK in value:
            raise TypeError(f'checkpoint{path}: the key {MARK!r} is reserved for encoding')
        return kind({_key(k, path): _encode(v, f'{path}[{k!r}]') for k, v in value.items()})
    if kind in (list, tuple):
        return kind(_encode(v, f'{path}[{i}]') for i, v in enumerate(value))
    if kind in (set, frozenset):
        items = [_key(v, path) for v in value]
        return set(items) if kind is set else {MARK: 'frozenset', 'items': items}
    name = f'{kind.__module__}.{kind.__qualname__}'
    if name in _CLASSES and _CLASSES[name][0] is kind:
        state = {k: v for k, v in vars(value).items() if k not in _CLASSES[name][1]}
        return {MARK: 'object', 'class': name, 'state': _encode(state, f'{path}.__dict__')}
    raise TypeError(
        f'checkpoint{path}: {name} cannot be stored weights-only (a checkpoint holds tensors, '
        'numpy arrays / scalars, numbers, strings, lists, tuples and dicts); convert it, or '
        'register its class with selfemb.utils.checkpoint.register_checkpoint_class')


def encode_checkpoint(checkpoint: dict) -> dict:
    """A copy of ``checkpoint`` that ``torch.load(weights_only=True)`` accepts: numpy
    arrays / scalars and registered objects (``HistoryBuffer``) become dicts marked
    ``{MARK: kind}``. The input is not modified. Raises ``TypeError`` naming the key path
    of anything it cannot represent."""
    return _encode(checkpoint, '')


def _decode_marked(value: dict, path: str) -> Any:
    kind = value[MARK]
    if kind in ('ndarray', 'numpy_scalar'):
        dtype = np.dtype(value['dtype'])
        if dtype.kind not in _NUMPY_KINDS:
            raise ValueError(f'checkpoint{path}: refusing numpy dtype {dtype}')
        data = value['data']
        data = data.cpu().numpy().tobytes() if isinstance(data, torch.Tensor) else data
        array = np.frombuffer(data, dtype=dtype)
        return array[0] if kind == 'numpy_scalar' else array.reshape(value['shape']).copy()
    if kind == 'frozenset':
        return frozenset(value['items'])
    if kind == 'object' and value.get('class') in _CLASSES:
        cls, drop = _CLASSES[value['class']]
        obj = cls.__new__(cls)
        state = {k: v for k, v in _decode(value['state'], f'{path}.__dict__').items()
                 if k not in drop}
        if hasattr(cls, '__setstate__'):
            obj.__setstate__(state)
        else:
            obj.__dict__.update(state)
        return obj
    raise ValueError(f'checkpoint{path}: unknown encoded {kind!r} {value.get("class", "")}; '
                     'was the checkpoint written by a newer selfemb (or a class it registers '
                     'with register_checkpoint_class not imported)?')


def _decode(value: Any, path: str) -> Any:
    kind = type(value)
    if kind in _MAPPINGS:
        if MARK in value:
            return _decode_marked(value, path)
        return kind({k: _decode(v, f'{path}[{k!r}]') for k, v in value.items()})
    if kind in (list, tuple):
        return kind(_decode(v, f'{path}[{i}]') for i, v in enumerate(value))
    return value


def decode_checkpoint(checkpoint: dict) -> dict:
    """The objects :func:`encode_checkpoint` encoded, rebuilt exactly (dtype, shape,
    numpy scalar types, ``HistoryBuffer``); everything else is returned unchanged."""
    return _decode(checkpoint, '')
