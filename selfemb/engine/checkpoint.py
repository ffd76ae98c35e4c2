"""Checkpoint I/O: atomic writes, and loading the project's own checkpoints on torch >= 2.6.

* Every local file mmengine writes (checkpoints, ``last_checkpoint``) goes to a temporary
  file in the same directory that is then renamed over the target, so an interrupted
  save never leaves a truncated checkpoint behind.
* torch >= 2.6 loads with ``weights_only=True``, which refuses mmengine's full training
  checkpoints (they hold the message hub and numpy scalars), so ``--resume`` would fail.
  Local files are loaded with ``weights_only=True`` first; only when that refuses the
  file is it loaded in full, with a log line saying so. Files from URLs keep mmengine's
  loaders. Export tensor-only state dicts for downstream use.
"""
import os
import os.path as osp
import pickle
import tempfile
from pathlib import Path
from typing import Union

import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader


def atomic_write_bytes(data: bytes, path: Union[str, Path]) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = os.fspath(path)
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.' + osp.basename(path) + '.')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put`` / ``put_text``."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write_bytes(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write_bytes(obj.encode(encoding), filepath)


register_backend('local', AtomicLocalBackend, force=True, prefixes='')


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_local_checkpoint(filename: str, map_location=None) -> dict:
    """Load a local checkpoint: tensors-only first, the full pickle if that is refused."""
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        print_log(f'{filename} is a full training checkpoint (optimizer, message hub, '
                  'meta); loading it in full as a trusted local file', logger='current')
        return torch.load(filename, map_location=map_location, weights_only=False)
    except (EOFError, RuntimeError) as err:
        raise RuntimeError(f'checkpoint {filename} is corrupt or truncated: {err}') from err
