"""Checkpoint I/O: atomic writes, weights-only loading, and an explicit trust option.

* Every local file mmengine writes goes to ``.tmp-<name>.<random>`` in the same directory,
  renamed over the target when complete: an interrupted save never leaves a truncated
  checkpoint (:func:`remove_stale_temp_files` clears the temporary files it leaves).
* A local checkpoint is loaded with ``torch.load(weights_only=True)`` only, so a crafted
  file cannot run code. selfemb's own checkpoints pass because ``SafeCheckpointHook``
  stores them through :func:`encode_checkpoint` (numpy arrays and scalars, message-hub
  ``HistoryBuffer`` s as marked dicts of tensors / numbers); :func:`decode_checkpoint`
  restores the objects on load. Any other pickle is refused with an error that says how
  to load it if you trust it: ``--trust-checkpoint`` / ``SELFEMB_TRUST_CHECKPOINTS=1`` /
  :func:`trust_checkpoints`. Files from URLs keep mmengine's loaders.
"""
import logging
import os
import os.path as osp
import pickle
import re
import tempfile
from pathlib import Path
from typing import List, Optional, Union

import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader

from .checkpoint_codec import decode_checkpoint, encode_checkpoint, register_checkpoint_class

__all__ = ['atomic_write_bytes', 'encode_checkpoint', 'decode_checkpoint',
           'register_checkpoint_class', 'trust_checkpoints', 'checkpoints_trusted',
           'load_local_checkpoint', 'resolve_last_checkpoint', 'remove_stale_temp_files',
           'UntrustedCheckpointError', 'CheckpointFormatError']

TRUST_ENV = 'SELFEMB_TRUST_CHECKPOINTS'
TEMP_PREFIX = '.tmp-'
_TEMP_NAME = re.compile(r'^\.tmp-.+\.[a-z0-9_]{8}$')  # tempfile.mkstemp's 8 random chars

class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint that ``torch.load(weights_only=True)`` refuses (it would run code)."""


class CheckpointFormatError(ValueError):
    """A file that is not a (complete) PyTorch checkpoint."""


def atomic_write_bytes(data: bytes, path: Union[str, Path]) -> None:
    """Write ``data`` to ``path`` through ``.tmp-<name>.<random>`` and an atomic rename."""
    path = os.fspath(path)
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX + osp.basename(path) + '.')
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


def trust_checkpoints() -> None:
    """Let local checkpoints that are not weights-only be unpickled in full (they can run
    code: only for files you trust). Sets ``SELFEMB_TRUST_CHECKPOINTS=1``, which child
    processes inherit."""
    os.environ[TRUST_ENV] = '1'


def checkpoints_trusted() -> bool:
    return os.environ.get(TRUST_ENV, '') == '1'


def _check_format(filename: str) -> None:
    """Raise :class:`CheckpointFormatError` for a file that cannot be a PyTorch checkpoint
    (a zip archive, or a legacy pickle starting with protocol byte 0x80)."""
    with open(filename, 'rb') as f:
        head = f.read(8)
    if not head:
        raise CheckpointFormatError(f'checkpoint {filename} is empty (0 bytes): not a PyTorch '
                                    'checkpoint (an interrupted copy?)')
    if not (head.startswith(b'PK\x03\x04') or head.startswith(b'\x80')):
        raise CheckpointFormatError(
            f'{filename} is not a PyTorch checkpoint (it starts with {head!r}, not a zip '
            'archive written by torch.save); give a .pth file')


def _refusal(err: Exception) -> str:
    """The short reason in torch's weights-only error (e.g. the global it refused)."""
    text = str(err)
    found = re.search(r'GLOBAL (\S+) was not an allowed global', text)
    if found:
        return f'it pickles the global {found.group(1)}, which weights_only does not allow'
    found = re.search(r'WeightsUnpickler error:\s*(.+)', text)
    return (found.group(1) if found else text.splitlines()[0]).split(' Please use')[0].strip()


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_local_checkpoint(filename: str, map_location=None) -> dict:
    """Load a local checkpoint with ``weights_only=True`` and :func:`decode_checkpoint` it;
    a file that needs more is refused unless :func:`trust_checkpoints` was called."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    _check_format(filename)
    try:
        loaded = torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if 'Weights only load failed' not in str(err):
            raise CheckpointFormatError(f'checkpoint {filename} is corrupt: {err}') from err
        reason = _refusal(err)
    except (EOFError, RuntimeError, KeyError, IndexError, ValueError) as err:
        detail = str(err).split('. ')[0] or type(err).__name__  # torch's first sentence
        raise CheckpointFormatError(f'checkpoint {filename} is truncated or corrupt (not a '
                                    f'complete PyTorch checkpoint): {detail}') from None
    else:
        return decode_checkpoint(loaded)
    if not checkpoints_trusted():
        raise UntrustedCheckpointError(
            f'{filename} is not a weights-only checkpoint ({reason}); loading it would '
            'unpickle arbitrary objects, which can run code. If you trust this file, load '
            f'it with --trust-checkpoint (tools), {TRUST_ENV}=1 in the environment, or '
            'selfemb.utils.checkpoint.trust_checkpoints()')
    print_log(f'loading {filename} in full ({TRUST_ENV}=1; not weights-only: {reason})',
              logger='current', level=logging.WARNING)
    return decode_checkpoint(torch.load(filename, map_location=map_location,
                                        weights_only=False))


def resolve_last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``work_dir/last_checkpoint`` names, as an absolute path inside
    ``work_dir`` (entries are relative to it); None when there is no ``last_checkpoint``.

    An absolute entry (older runs) is replaced by the file of the same name inside
    ``work_dir``: a copied work dir never reads the original's checkpoints."""
    work_dir = osp.abspath(work_dir)
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None
    with open(record) as f:
        entry = f.read().strip()
    if not entry:
        raise ValueError(f'{record} is empty: write the checkpoint file name (e.g. '
                         'epoch_3.pth) into it, or resume from an explicit checkpoint path')
    if '://' in entry:  # a remote out_dir
        return entry
    if not osp.isabs(entry):
        path = osp.normpath(osp.join(work_dir, entry))
        if not osp.isfile(path):
            raise FileNotFoundError(f'{record} names {entry}, but {path} does not exist')
        return path
    path = osp.join(work_dir, osp.basename(entry))
    if osp.isfile(path):
        return path
    raise FileNotFoundError(
        f'{record} holds the absolute path {entry} (an older run or a copied work dir), and '
        f'there is no {osp.basename(entry)} in {work_dir}; selfemb never resumes from a '
        'file outside the work dir: copy the checkpoint into it or resume from it explicitly')


def remove_stale_temp_files(work_dir: str) -> List[str]:
    """Remove the ``.tmp-<name>.<random>`` files interrupted atomic writes left in
    ``work_dir`` (not recursive); return their paths."""
    if not osp.isdir(work_dir):
        return []
    removed = []
    for name in sorted(os.listdir(work_dir)):
        path = osp.join(work_dir, name)
        if _TEMP_NAME.match(name) and osp.isfile(path):
            os.remove(path)
            removed.append(path)
    return removed
