"""Fail on host synchronisations inside a block of code (a training step, usually).

A CUDA step that reads a device value on the host (``.item()``, ``if tensor:``,
``.tolist()``), or whose output shape depends on device data (boolean-mask indexing,
``nonzero``, ``bincount``, ``unique``), makes the host wait for the device: the launch
queue drains, and the step can no longer be captured as one CUDA graph (DESIGN §3).

:func:`sync_guard` catches these:

* on a CUDA device, with ``torch.cuda.set_sync_debug_mode('error')``: every call that
  synchronises raises (PyTorch's own detector, exact);
* on every device (the CPU included, where nothing ever waits and so nothing would be
  caught otherwise), with :class:`SyncGuard`, a :class:`~torch.overrides.TorchFunctionMode`
  that raises :class:`HostSyncError` on each operation of :data:`FORBIDDEN`, on indexing
  with a boolean (mask) tensor, read or write, and on building a tensor from host data
  for a device (``torch.tensor(x, device=...)``, ``t.new_tensor(x)``: a blocking copy).

Python numbers are fine (``x.size(0)``, ``int(2.0)``); only tensors are refused. The mode
sees the calls made from Python (the whole model, loss and optimizer code), not those
one PyTorch operator makes internally in C++ — those are the CUDA detector's part.

Use it in tests::

    with sync_guard():
        model.train_step(batch, optim_wrapper)
"""
import contextlib
import sys
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Union

import torch
from torch.overrides import TorchFunctionMode

Tensor = torch.Tensor

# operation -> why it synchronises
FORBIDDEN: Dict[Callable, str] = {
    Tensor.item: 'reads a device value on the host',
    Tensor.tolist: 'copies the tensor to the host',
    Tensor.numpy: 'copies the tensor to the host',
    Tensor.cpu: 'copies the tensor to the host',
    Tensor.__bool__: 'reads a device value on the host (a tensor in `if` / `and` / `bool()`)',
    Tensor.__int__: 'reads a device value on the host (`int(tensor)`)',
    Tensor.__float__: 'reads a device value on the host (`float(tensor)`)',
    Tensor.__complex__: 'reads a device value on the host (`complex(tensor)`)',
    Tensor.__index__: 'reads a device value on the host (a tensor used as a Python index)',
    Tensor.__format__: 'reads the values to format them',
    Tensor.__repr__: 'reads the values to print them',
    Tensor.nonzero: 'has an output shape that depends on the data',
    torch.nonzero: 'has an output shape that depends on the data',
    Tensor.argwhere: 'has an output shape that depends on the data',
    torch.argwhere: 'has an output shape that depends on the data',
    Tensor.masked_select: 'has an output shape that depends on the data',
    torch.masked_select: 'has an output shape that depends on the data',
    Tensor.unique: 'has an output shape that depends on the data',
    torch.unique: 'has an output shape that depends on the data',
    Tensor.unique_consecutive: 'has an output shape that depends on the data',
    torch.unique_consecutive: 'has an output shape that depends on the data',
    Tensor.bincount: 'reads the largest value on the host to size its output (CUDA)',
    torch.bincount: 'reads the largest value on the host to size its output (CUDA)',
}
_MASK_DTYPES = (torch.bool, torch.uint8)
_INDEXING = (Tensor.__getitem__, Tensor.__setitem__, Tensor.index_put, Tensor.index_put_,
             torch.index_put)


class HostSyncError(RuntimeError):
    """An operation that synchronises the host with the device ran inside a guard."""


def _is_mask(index: Any) -> bool:
    """Whether an indexing argument holds a boolean / uint8 tensor (at any nesting)."""
    if isinstance(index, Tensor):
        return index.dtype in _MASK_DTYPES
    if isinstance(index, (tuple, list)):
        return any(_is_mask(i) for i in index)
    return False


def _name(func: Callable) -> str:
    return getattr(func, '__qualname__', None) or getattr(func, '__name__', repr(func))


def sync_reason(func: Callable, args: tuple, kwargs: dict) -> Optional[str]:
    """Why calling ``func(*args, **kwargs)`` synchronises with the host, or None."""
    try:
        reason = FORBIDDEN.get(func)
    except TypeError:  # an unhashable callable
        reason = None
    if reason is not None:
        return reason
    if func in _INDEXING and len(args) > 1 and _is_mask(args[1]):
        return 'indexes with a boolean mask (its output shape depends on the data)'
    if func is torch.where and len(args) + len(kwargs) == 1:
        return 'has an output shape that depends on the data (one-argument where)'
    if func is Tensor.new_tensor or (func in (torch.tensor, torch.as_tensor)
                                     and kwargs.get('device') is not None
                                     and not isinstance(args[0] if args else None, Tensor)):
        return ('copies host data to the device, a blocking copy on a GPU (a scalar: '
                'torch.full / new_full; data: a pinned tensor copied with non_blocking=True)')
    if (func in (torch.repeat_interleave, Tensor.repeat_interleave)
            and isinstance(args[1] if len(args) > 1 else kwargs.get('repeats'), Tensor)
            and kwargs.get('output_size') is None):
        return 'has an output shape that depends on the data (give output_size)'
    return None


def _allowed_caller(allow: Mapping[str, str]) -> bool:
    """Whether a function named in ``allow`` (``'path/suffix.py:function'``) is on the
    Python stack."""
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        for where in allow:
            path, _, function = where.rpartition(':')
            if code.co_name == function and code.co_filename.endswith(path):
                return True
        frame = frame.f_back
    return False


class SyncGuard(TorchFunctionMode):
    """A torch-function mode that raises :class:`HostSyncError` on a synchronising call
    (see the module docstring); everything else runs unchanged.

    Args:
        allow: Known exceptions, ``{'path/suffix.py:function': reason}``: a synchronising
            call made (directly or not) from that function passes. State the reason; it
            is the list of what is left to fix.
    """

    def __init__(self, allow: Optional[Mapping[str, str]] = None) -> None:
        super().__init__()
        self.allow = dict(allow or {})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        reason = sync_reason(func, args, kwargs)
        if reason is not None and not (self.allow and _allowed_caller(self.allow)):
            raise HostSyncError(f'{_name(func)} {reason}: a host synchronisation inside a '
                                'sync-free block')
        return func(*args, **kwargs)


@contextlib.contextmanager
def sync_guard(device: Union[None, str, torch.device] = None,
               allow: Optional[Mapping[str, str]] = None) -> Iterator[None]:
    """:class:`SyncGuard` (with its ``allow``) while inside, plus, when ``device``
    (default: CUDA if available) is a CUDA device,
    ``torch.cuda.set_sync_debug_mode('error')`` (restored on exit; it knows no
    exceptions)."""
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    cuda = torch.device(device).type == 'cuda'
    previous = torch.cuda.get_sync_debug_mode() if cuda else None
    try:
        if cuda:
            torch.cuda.set_sync_debug_mode('error')
        with SyncGuard(allow):
            yield
    finally:
        if cuda:
            torch.cuda.set_sync_debug_mode(previous)
