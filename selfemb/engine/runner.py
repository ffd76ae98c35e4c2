"""``SelfembRunner``: mmengine's Runner with the guarantees selfemb's runs rely on.

* ``--resume`` reads ``last_checkpoint`` relative to the work dir (a moved work dir
  resumes; a copied one never reads the original's files), and says when there is
  nothing to resume; resuming a finished run is an error that says what to do.
* ``--resume`` and ``load_from`` load a checkpoint only into the model that made it
  (:func:`~selfemb.engine.model_loading.check_checkpoint`), strictly, unless
  ``allow_mismatch=True``.
* ``custom_hooks`` may be a dict keyed by role (``dict(knn=dict(type='KNNEvalHook',
  ...))``), so configs inherit and override hooks by role and ``--cfg-options
  custom_hooks.knn.k=5`` works; see :func:`hooks_by_role`. ``method_hooks``, the same
  kind of dict, holds the hooks a method cannot run without (AND's discovery, InterCLR's
  initial k-means, UIC's labels), declared in the method's model base file; they are
  registered after ``custom_hooks`` (mmengine refuses a key that two sibling ``_base_``
  files both set, so the model base and the dataset base need keys of their own).
* A training loader that yields no batch (fewer samples than the batch with
  ``drop_last``) is an error before the first epoch, not an empty run.
* ``cuda_graph = dict(enable=True, warmup=3, max_graphs=2)`` (``tools/train.py
  --cuda-graph``) replays the whole training step from a CUDA graph
  (:class:`~selfemb.engine.cuda_graph.CudaGraphHook`, added after the other hooks); a DDP
  model is then built on a side stream, as PyTorch asks before capturing its backward.
"""
import copy
import os.path as osp
from typing import Any, List, Optional, Sequence, Union

import torch
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_to_model

from selfemb.registry import RUNNERS
from selfemb.utils.checkpoint import resolve_last_checkpoint

from .cuda_graph import graph_options, side_stream
from .hooks.safe_checkpoint_hook import run_identity
from .model_loading import check_checkpoint, unwrap


class RunFinishedError(RuntimeError):
    """``--resume`` of a run that has already trained to its end."""


def default_work_dir(config_file: str) -> str:
    """``work_dirs/<path under configs/ without .py>``, e.g. ``configs/isif/r18_fmnist.py``
    -> ``work_dirs/isif/r18_fmnist`` (a config outside a ``configs`` folder: its parent
    folder and name), so two configs never share a work dir."""
    parts = osp.normpath(osp.abspath(config_file)).split(osp.sep)
    stem = osp.splitext(parts[-1])[0]
    if 'configs' in parts[:-1]:
        top = len(parts) - 1 - parts[::-1].index('configs')
        return osp.join('work_dirs', *parts[top + 1:-1], stem)
    return osp.join('work_dirs', parts[-2], stem)


def hooks_by_role(custom_hooks: Union[None, dict, Sequence[Any]]) -> List[Any]:
    """The list mmengine expects from ``custom_hooks``: a dict keyed by role gives its
    values in key order, without the roles set to None (how a config removes an inherited
    hook); a list (or None) is taken as it is."""
    if custom_hooks is None:
        return []
    if isinstance(custom_hooks, dict):
        return [hook for hook in custom_hooks.values() if hook is not None]
    if isinstance(custom_hooks, (list, tuple)):
        return list(custom_hooks)
    raise TypeError(f'custom_hooks must be a dict keyed by role or a list of hooks, got '
                    f'{type(custom_hooks).__name__}')


def build_runner(cfg) -> Runner:
    """The runner ``cfg.runner_type`` names (default :class:`SelfembRunner`), from ``cfg``."""
    return RUNNERS.get(cfg.get('runner_type', 'SelfembRunner')).from_cfg(cfg)


@RUNNERS.register_module()
class SelfembRunner(Runner):
    """Runner of every selfemb config (``runner_type = 'SelfembRunner'``)."""

    def __init__(self, *args, custom_hooks: Union[None, dict, Sequence[Any]] = None,
                 **kwargs) -> None:
        super().__init__(*args, custom_hooks=hooks_by_role(custom_hooks), **kwargs)

    @classmethod
    def from_cfg(cls, cfg) -> Runner:
        """mmengine's ``from_cfg``, with ``method_hooks`` appended to ``custom_hooks``, then
        the ``CudaGraphHook`` of an enabled ``cuda_graph``."""
        method_hooks = hooks_by_role(cfg.get('method_hooks'))
        graph = graph_options(cfg)
        if method_hooks or graph is not None:
            cfg = copy.deepcopy(cfg)
            graph_hooks = [] if graph is None else [dict(type='CudaGraphHook', **graph)]
            cfg.custom_hooks = hooks_by_role(cfg.get('custom_hooks')) + method_hooks + \
                graph_hooks
            cfg.pop('method_hooks', None)
        return super().from_cfg(cfg)

    def wrap_model(self, model_wrapper_cfg: Optional[dict], model):
        """mmengine's; built on a side stream when a distributed CUDA step is to be captured
        (PyTorch's condition for capturing DDP's backward with NCCL)."""
        capture_ddp = (self.distributed and torch.cuda.is_available()
                       and graph_options(self.cfg) is not None)
        with side_stream(capture_ddp):
            return super().wrap_model(model_wrapper_cfg, model)

    def load_or_resume(self) -> None:
        if self._has_loaded:
            return
        resumed = False
        if self._resume:
            path = self._load_from
            if path is None:
                path = resolve_last_checkpoint(self.work_dir)
                if path is None:
                    self.logger.info(f'--resume: no checkpoint in {self.work_dir} yet; '
                                     'starting a new run')
                else:
                    self.logger.info(f'Auto resumed from the latest checkpoint {path}.')
            if path is not None:
                self.resume(path)
                resumed = True
        elif self._load_from is not None:
            self.load_checkpoint(self._load_from)
        self._has_loaded = True
        loop = self.train_loop
        if resumed and not isinstance(loop, dict) and self.iter >= loop.max_iters:
            raise RunFinishedError(
                f'{self.work_dir} has already finished: iteration {self.iter} of '
                f'{loop.max_iters} (epoch {self.epoch} of {loop.max_epochs}). To train '
                'longer, resume with a larger train_cfg.max_epochs (e.g. --cfg-options '
                f'train_cfg.max_epochs={2 * loop.max_epochs}); to start again, choose '
                'another --work-dir.')

    def load_checkpoint(self, filename: str, map_location='cpu', strict: bool = False,
                        revise_keys: Optional[list] = None):
        """Load ``filename`` after checking that it fits the model (always strict unless
        ``allow_mismatch``; mmengine's non-strict default is not used)."""
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        allow = bool(self.cfg.get('allow_mismatch', False))
        check_checkpoint(self.model, checkpoint, filename, model_identity=run_identity(self),
                         allow_mismatch=allow)
        checkpoint = _load_checkpoint_to_model(
            unwrap(self.model), checkpoint, strict=not allow,
            revise_keys=revise_keys or [(r'^module.', '')])
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def build_train_loop(self, loop):
        """mmengine's, with ``EpochBasedTrainLoop`` resuming inside an epoch
        (:class:`~selfemb.engine.loops.ResumableEpochBasedTrainLoop`)."""
        if isinstance(loop, dict) and loop.get('type') in ('EpochBasedTrainLoop',
                                                           'mmengine.EpochBasedTrainLoop'):
            loop = dict(loop, type='ResumableEpochBasedTrainLoop')
        loop = super().build_train_loop(loop)
        loader = loop.dataloader
        if len(loader) == 0:
            raise ValueError(
                f'the training dataloader yields no batch: {len(loader.sampler)} samples per '
                f'rank (dataset of {len(loader.dataset)}), batch_size {loader.batch_size}, '
                f'drop_last={loader.drop_last}. '
                'Use more samples (train_dataloader.dataset.indices), a smaller '
                'train_dataloader.batch_size, or train_dataloader.drop_last=False.')
        return loop
