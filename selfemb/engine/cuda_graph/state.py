"""What a captured step depends on: the batch's layout, the tensors and numbers baked into
the graph, and the Python-held state a replay would not renew."""
from operator import itemgetter
from typing import Any, Dict, Hashable, List, Optional, Tuple

import torch
from torch import Tensor, nn

from selfemb.utils.samples import IndexedSamples

#: attribute types whose values a captured step may have read as constants
SCALARS = (bool, int, float, str, type(None))


def _is_leafy(node: Any) -> bool:
    return isinstance(node, (Tensor, dict, list, tuple))


def batch_signature(data: Any) -> Hashable:
    """A hashable layout of a batch: every tensor's shape, dtype and device, the nesting
    of dicts / lists, and the length of a list of other objects (data samples), with the
    index tensor of :class:`IndexedSamples`."""
    if isinstance(data, Tensor):
        return ('T', tuple(data.shape), data.dtype, data.device)
    if _carries_indices(data):
        return ('I', len(data), batch_signature(data.indices))
    if isinstance(data, dict):
        return ('D', tuple((key, batch_signature(value)) for key, value in data.items()))
    if isinstance(data, (list, tuple)):
        if not any(_is_leafy(x) for x in data):
            return ('L', len(data))  # data samples: their count only
        return ('S', tuple(batch_signature(x) for x in data))
    return ('O', type(data).__name__)


def _carries_indices(node: Any) -> bool:
    return isinstance(node, IndexedSamples) and isinstance(node.indices, Tensor)


def batch_tensors(data: Any) -> List[Tensor]:
    """The batch's tensors, in the order of :func:`batch_signature`."""
    if isinstance(data, Tensor):
        return [data]
    if _carries_indices(data):
        return [data.indices]
    if isinstance(data, dict):
        return [t for value in data.values() for t in batch_tensors(value)]
    if isinstance(data, (list, tuple)) and any(_is_leafy(x) for x in data):
        return [t for x in data for t in batch_tensors(x)]
    return []


def describe(signature: Hashable) -> str:
    """The tensors of a :func:`batch_signature`, e.g. ``128x1x28x28 uint8``."""
    found: List[str] = []

    def walk(node):
        if isinstance(node, tuple) and node and node[0] == 'T':
            found.append('x'.join(map(str, node[1])) + ' ' + str(node[2]).replace('torch.', ''))
        elif isinstance(node, tuple):
            for item in node:
                walk(item)
    walk(signature)
    more = f' (+{len(found) - 3} more)' if len(found) > 3 else ''
    return ', '.join(found[:3]) + more


class StaticBatch:
    """A batch whose tensors live at fixed addresses on ``device``: the graph reads them
    there, and :meth:`load` copies each new batch in, the dataset indices of
    :class:`IndexedSamples` included. Other leaves (the data samples themselves) are the
    first batch's: a captured step must not read them."""

    def __init__(self, data: Any, device: torch.device) -> None:
        self.data = self._clone(data, device)
        self.tensors = batch_tensors(self.data)

    def _clone(self, node: Any, device: torch.device) -> Any:
        if isinstance(node, Tensor):
            return node.detach().to(device, copy=True)
        if _carries_indices(node):
            return IndexedSamples(node, indices=self._clone(node.indices, device))
        if isinstance(node, dict):
            return type(node)((k, self._clone(v, device)) for k, v in node.items())
        if isinstance(node, (list, tuple)) and any(_is_leafy(x) for x in node):
            return type(node)(self._clone(x, device) for x in node)
        return node

    def load(self, data: Any) -> None:
        """Copy the tensors of ``data`` (of the same signature) into place."""
        for static, new in zip(self.tensors, batch_tensors(data)):
            static.copy_(new, non_blocking=True)


def _plain(value: Any) -> Any:
    """A hyper-parameter as a comparable value (a tensor by its address)."""
    if isinstance(value, Tensor):
        return ('tensor', value.data_ptr())
    if isinstance(value, list):
        return tuple(value)
    return value


class Fingerprint:
    """What a captured graph baked in, read cheaply before every replay: the addresses of
    parameters, buffers and optimizer state (and which parameters train), the param
    groups' hyper-parameters except the learning rates kept in device tensors, and the
    modules' scalar attributes (``training``, temperatures, weights read as numbers).

    The modules and the names of their scalar attributes are listed once, so a call is a
    few C-level passes (under 0.1 ms for a ResNet-18 model on one CPU core)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 device_lr: List[bool]) -> None:
        self.model, self.optimizer, self.device_lr = model, optimizer, device_lr
        self.modules = list(model.modules())
        self._params = [m._parameters for m in self.modules]
        self._buffers = [m._buffers for m in self.modules]
        self._attrs = [vars(m) for m in self.modules]
        self._scalar_keys = [tuple(k for k, v in d.items() if type(v) in SCALARS)
                             for d in self._attrs]
        self._getters = [itemgetter(*keys) if keys else tuple for keys in self._scalar_keys]

    def tensors(self) -> Tuple:
        params = [p for d in self._params for p in d.values() if p is not None]
        buffers = [b for d in self._buffers for b in d.values() if b is not None]
        state = [v for s in self.optimizer.state.values() for v in s.values()
                 if isinstance(v, Tensor)]
        return (tuple(map(Tensor.data_ptr, params)) + tuple(p.requires_grad for p in params),
                tuple(map(Tensor.data_ptr, buffers)), tuple(map(Tensor.data_ptr, state)))

    def hyper(self) -> Tuple:
        return tuple(tuple((k, _plain(v)) for k, v in group.items()
                           if k != 'params' and not (k == 'lr' and on_device))
                     for group, on_device in zip(self.optimizer.param_groups, self.device_lr))

    def scalars(self) -> Tuple:
        try:
            values = [get(d) for get, d in zip(self._getters, self._attrs)]
        except KeyError:  # an attribute was deleted
            return ()
        return tuple(values) + (sum(map(len, self._attrs)), )

    def __call__(self) -> Tuple:
        return self.tensors(), self.hyper(), self.scalars()

    def explain(self, old: Tuple, new: Tuple) -> str:
        """What differs between two fingerprints, in words."""
        if old[0] != new[0]:
            kinds = [name for name, a, b in zip(('a parameter (or its requires_grad)',
                                                  'a buffer', 'optimizer state'), old[0], new[0])
                     if a != b]
            return f'{" and ".join(kinds)} replaced by another tensor'
        if old[1] != new[1]:
            for i, (a, b) in enumerate(zip(old[1], new[1])):
                if a != b:
                    changed = sorted(set(a) ^ set(b))
                    keys = sorted({k for k, _ in changed})
                    values = {k: (dict(a).get(k), dict(b).get(k)) for k in keys}
                    return f'param group {i}: ' + ', '.join(
                        f'{k} {v[0]!r} -> {v[1]!r}' for k, v in values.items())
        names = {id(m): name for name, m in self.model.named_modules()}
        for m, keys, a, b in zip(self.modules, self._scalar_keys, old[2], new[2]):
            if a != b:
                a, b = (a, b) if len(keys) > 1 else ((a, ), (b, ))
                changed = [k for k, x, y in zip(keys, a, b) if x is not y and x != y]
                return f'attribute(s) {changed} of module {names.get(id(m)) or "(model)"!r}'
        return 'module attributes added or deleted'


def held_state(model: nn.Module) -> Dict[Tuple[str, str], Any]:
    """Module attributes outside parameters and buffers: scalars by value, tensors (and
    tuples / lists of them) by identity. A step that changes one keeps state in Python,
    which a replay, running no Python, would not renew."""
    state: Dict[Tuple[str, str], Any] = {}
    for name, module in model.named_modules():
        for key, value in vars(module).items():
            if type(value) in SCALARS:
                state[(name, key)] = value
            elif isinstance(value, Tensor):
                state[(name, key)] = (value, )
            elif isinstance(value, (tuple, list)) and any(isinstance(v, Tensor) for v in value):
                state[(name, key)] = tuple(value)
    return state


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):  # tensors: the same objects
        return len(a) == len(b) and all(x is y for x, y in zip(a, b))
    return type(a) is type(b) and (a is b or a == b)


def changed_state(before: Dict, after: Dict) -> Optional[str]:
    """The attributes that differ between two :func:`held_state` snapshots, or None."""
    missing = object()
    keys = sorted(k for k in set(before) | set(after)
                  if not _same(before.get(k, missing), after.get(k, missing)))
    if not keys:
        return None
    return ', '.join(f'{name or "(model)"}.{key}' for name, key in keys)
