"""Two helpers for hooks and evaluation: compute on rank 0 for every rank, keep the RNGs.

:func:`on_rank0` runs a function on rank 0 only and hands its return value, or the
exception it raised, to every rank (one ``mmengine.dist.broadcast_object_list``), so all
ranks go on with the same value or all raise the same error: a failure on rank 0 never
leaves the other ranks waiting in a later collective. :func:`frozen_rng` is a context in
which every random stream a hook could move (CPU, current CUDA device) is restored on
exit, so evaluation or feature extraction inside a run keeps ``--resume`` exact.
"""
import pickle
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

import torch
from mmengine import dist

T = TypeVar('T')


def _portable(err: Exception) -> Exception:
    """``err`` if it survives pickling (so another rank can raise it), else a
    ``RuntimeError`` naming its type and message."""
    try:
        copy = pickle.loads(pickle.dumps(err))
    except Exception:
        copy = None
    if type(copy) is type(err) and str(copy) == str(err):
        return err
    return RuntimeError(f'{type(err).__name__} on rank 0: {err}')


def on_rank0(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` computed on rank 0 and returned on every rank.

    Rank 0 calls ``fn``; its return value, or the ``Exception`` it raised, is broadcast
    from rank 0, so every rank returns an equal value (rank 0 the object itself, the
    others an unpickled copy) or raises an exception of the same type with the same
    message (rank 0 re-raises the original, with its traceback). An exception that does
    not survive pickling reaches the other ranks as a ``RuntimeError`` naming it; a return
    value that cannot be pickled fails on every rank the same way. The other ranks never
    call ``fn``. Every rank must call ``on_rank0`` (it is a collective). In a single
    process it is ``fn(*args, **kwargs)``.

    For large tensors, let ``fn`` fill preallocated buffers in place and return nothing,
    then ``dist.broadcast`` them: the object broadcast pickles, and a CUDA tensor would
    arrive on rank 0's device.
    """
    if dist.get_world_size() == 1:
        return fn(*args, **kwargs)
    box: list = [None]
    if dist.get_rank() == 0:
        try:
            value = fn(*args, **kwargs)
        except Exception as err:  # raised on every rank, so no rank waits forever
            error = err
        else:
            error = None
            try:
                box[0] = (True, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            except Exception as err:
                error = TypeError(f'on_rank0: the return value of {fn!r} cannot be sent to '
                                  f'the other ranks ({type(err).__name__}: {err})')
        if error is not None:
            box[0] = (False, pickle.dumps(_portable(error)))
        dist.broadcast_object_list(box, src=0)
        if error is not None:
            raise error
        return value
    dist.broadcast_object_list(box, src=0)
    ok, blob = box[0]
    result = pickle.loads(blob)
    if not ok:
        raise result
    return result


@contextmanager
def frozen_rng() -> Iterator[None]:
    """Inside this context the random streams may be used freely: the CPU generator and
    that of the current CUDA device (when there is one) are restored on exit
    (``torch.random.fork_rng``)."""
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        yield
