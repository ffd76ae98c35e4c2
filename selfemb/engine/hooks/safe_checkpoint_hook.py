"""``SafeCheckpointHook``: mmengine's CheckpointHook that never loses a good checkpoint.

* The new checkpoint is written first; outdated ones (beyond ``max_keep_ckpts``, or the
  previous best) are removed only after it was saved. If saving raises (e.g. a hook
  refuses a non-finite state in ``before_save_checkpoint``) nothing is removed and
  ``last_checkpoint`` still names the previous file.
* ``last_checkpoint`` is written atomically and holds the path relative to the work dir
  (read it with :func:`~selfemb.utils.checkpoint.resolve_last_checkpoint`).
* Checkpoints load with ``torch.load(weights_only=True)``: ``before_save_checkpoint``
  applies :func:`~selfemb.utils.checkpoint.encode_checkpoint` (priority VERY_LOW, after
  ``RandomStateHook``) and records :func:`run_identity` in ``meta['selfemb']``.
* Temporary files of interrupted writes are removed before the run; a keyword argument
  that neither this hook nor ``Runner.save_checkpoint`` takes is an error at build time.
"""
import difflib
import hashlib
import inspect
import io
import os.path as osp
from collections import deque
from typing import Any, Dict, List, Optional

import torch
from mmengine.dist import is_main_process, master_only
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

from selfemb.registry import HOOKS
from selfemb.utils.checkpoint import atomic_write_bytes, encode_checkpoint, remove_stale_temp_files
from selfemb.version import __version__

# the arguments CheckpointHook passes to Runner.save_checkpoint itself
_PASSED = {'self', 'out_dir', 'filename', 'file_client_args', 'save_optimizer',
           'save_param_scheduler', 'meta', 'by_epoch', 'backend_args'}
EXTRA_SAVE_ARGS = set(inspect.signature(Runner.save_checkpoint).parameters) - _PASSED
HOOK_ARGS = [p for p in inspect.signature(CheckpointHook.__init__).parameters
             if p not in ('self', 'kwargs')]


def run_identity(runner) -> dict:
    """What produced a checkpoint: selfemb version, algorithm (unwrapped model type),
    config file and training-set length (None when unknown)."""
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    loop = getattr(runner, '_train_loop', None)  # not built yet: a dict (or None)
    loader = None if loop is None or isinstance(loop, dict) else loop.dataloader
    dataset = getattr(loader, 'dataset', None)
    try:
        length = len(dataset) if dataset is not None else None
    except TypeError:  # an iterable dataset
        length = None
    cfg = getattr(runner, 'cfg', None)
    return dict(version=__version__, algorithm=type(model).__name__,
                config=getattr(cfg, 'filename', None), dataset_length=length)


class _DeferredRemoval:
    """A file backend whose ``remove`` / ``rmtree`` wait for :meth:`flush`."""

    def __init__(self, backend) -> None:
        self._backend, self.pending = backend, []

    def remove(self, path) -> None:
        self.pending.append(path)

    rmtree = remove

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def flush(self, keep: List[Optional[str]]) -> None:
        for path in self.pending:
            if path in keep:
                continue
            if self._backend.isfile(path):
                self._backend.remove(path)
            elif self._backend.isdir(path):  # deepspeed checkpoints are directories
                self._backend.rmtree(path)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments) with save-then-delete, a relative atomic
    ``last_checkpoint``, weights-only checkpoints and strict arguments."""

    def __init__(self, interval: int = -1, **kwargs) -> None:
        valid = HOOK_ARGS + sorted(EXTRA_SAVE_ARGS)
        for key in kwargs:
            if key not in valid:
                close = difflib.get_close_matches(key, valid, n=3)
                hint = f'did you mean {" or ".join(map(repr, close))}? ' if close else ''
                raise ValueError(f'SafeCheckpointHook: unknown argument {key!r}; {hint}'
                                 f'valid arguments: {", ".join(valid)}')
        super().__init__(interval=interval, **kwargs)

    def before_run(self, runner) -> None:
        if not is_main_process():
            return
        dirs = {runner.work_dir}  # and where checkpoints go (as CheckpointHook.before_train)
        out_dir = None if self.out_dir is None else str(self.out_dir)
        if out_dir is not None and out_dir != runner.work_dir and '://' not in out_dir:
            dirs.add(osp.join(out_dir, osp.basename(runner.work_dir.rstrip(osp.sep))))
        removed = [p for d in sorted(dirs) for p in remove_stale_temp_files(d)]
        if removed:
            runner.logger.info('removed temporary files of interrupted writes: '
                               + ', '.join(removed))

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self.save_best is None:  # best paths from a resumed message hub: this out_dir
            return
        if len(self.key_indicators) == 1:
            self.best_ckpt_path = self._here(self.best_ckpt_path)
        else:
            self.best_ckpt_path_dict = {k: self._here(v)
                                        for k, v in self.best_ckpt_path_dict.items()}

    def _here(self, path: Optional[str]) -> Optional[str]:
        """``path`` moved into this run's out_dir (a copied or moved work dir never
        removes the original's best checkpoint)."""
        if path is None or '://' in str(path):
            return path
        return self.file_backend.join_path(self.out_dir, osp.basename(path))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['selfemb'] = run_identity(runner)
        encoded = encode_checkpoint(checkpoint)
        checkpoint.clear()
        checkpoint.update(encoded)

    @master_only
    def _publish_model(self, runner, ckpt_path: str) -> None:
        """As CheckpointHook (``published_keys`` only, ``<name>-<sha256[:8]>.pth``), but
        the published file is weights-only too."""
        checkpoint = _load_checkpoint(ckpt_path, map_location='cpu')
        checkpoint = encode_checkpoint({k: v for k, v in checkpoint.items()
                                        if k in self.published_keys})
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        data = buffer.getvalue()
        path = osp.splitext(ckpt_path)[0] + f'-{hashlib.sha256(data).hexdigest()[:8]}.pth'
        self.file_backend.put(data, path)
        runner.logger.info(f'published {ckpt_path} (keys {self.published_keys}) as {path}')

    def _save_best_checkpoint(self, runner, metrics) -> None:
        backend = self.file_backend
        self.file_backend = deferred = _DeferredRemoval(backend)
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        if is_main_process():  # the new best is saved: now remove the previous one
            keep = [getattr(self, 'best_ckpt_path', None), self.last_ckpt,
                    *getattr(self, 'best_ckpt_path_dict', {}).values()]
            deferred.flush(keep)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        hub = runner.message_hub
        saved: Dict[str, Any] = {k: hub.runtime_info[k] for k in ('keep_ckpt_ids', 'last_ckpt')
                                 if k in hub.runtime_info}
        previous_ids, previous_last = getattr(self, 'keep_ckpt_ids', None), self.last_ckpt
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            ids = [*self.keep_ckpt_ids, step]
            outdated = ids[:-self.max_keep_ckpts]
            self.keep_ckpt_ids = deque(ids[-self.max_keep_ckpts:], self.max_keep_ckpts)
            hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        hub.update_info('last_ckpt', self.last_ckpt)
        try:
            runner.save_checkpoint(
                self.out_dir, filename, self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler, meta=meta,
                by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        except BaseException:  # nothing removed; the run's bookkeeping as before
            self.keep_ckpt_ids, self.last_ckpt = previous_ids, previous_last
            for key in ('keep_ckpt_ids', 'last_ckpt'):
                if key in saved:
                    hub.update_info(key, saved[key])
                else:
                    hub.runtime_info.pop(key, None)
            raise
        if not is_main_process():
            return
        deferred = _DeferredRemoval(self.file_backend)
        for old in outdated:
            deferred.remove(self.file_backend.join_path(self.out_dir,
                                                        self.filename_tmpl.format(old)))
        deferred.flush(keep=[self.last_ckpt])
        self._write_last_checkpoint(runner)

    def _write_last_checkpoint(self, runner) -> None:
        """``work_dir/last_checkpoint`` <- the new checkpoint, relative to the work dir."""
        entry = str(self.last_ckpt)
        if '://' not in entry:
            entry = osp.relpath(osp.abspath(entry), osp.abspath(runner.work_dir))
        atomic_write_bytes(entry.encode(), osp.join(runner.work_dir, 'last_checkpoint'))
