"""Stop a run at its first NaN / Inf loss, and never save a non-finite checkpoint.

DESIGN §7: a NaN loss gets a clear error that names where it happened and loses no
checkpoint; DESIGN §3: no host synchronisation inside a step.
"""
import math
from typing import Dict, Iterable, List, Optional, Tuple

import torch
from mmengine import dist
from mmengine.hooks import Hook, LoggerHook
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmengine.runner import EpochBasedTrainLoop
from torch import nn

from selfemb.registry import HOOKS
from selfemb.utils.checkpoint import resolve_last_checkpoint

from ...models.memories import BaseMemory
from ..optim_wrappers import Bf16Autocast, NonFiniteSkipOptimWrapper

__all__ = ['NonFiniteGuardHook', 'NonFiniteLossError', 'nonfinite_tensors']


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN / Inf loss, gradient or model state; the run stops."""


def nonfinite_tensors(named: Iterable[Tuple[str, torch.Tensor]]) -> List[str]:
    """Names of the floating tensors that hold a NaN / Inf: one reduction, one host read per
    device."""
    by_device: Dict[torch.device, List[Tuple[str, torch.Tensor]]] = {}
    for name, t in named:
        if torch.is_tensor(t) and (t.is_floating_point() or t.is_complex()):
            by_device.setdefault(t.device, []).append((name, t.detach()))
    bad = []
    for items in by_device.values():
        finite = torch.stack([torch.isfinite(t).all() for _, t in items]).tolist()
        bad += [name for (name, _), ok in zip(items, finite) if not ok]
    return bad


def forward_state(model: nn.Module) -> List[torch.Tensor]:
    """What a forward pass may change besides the trained parameters and the dataset-sized
    memories (BatchNorm statistics, momentum encoders, queues)."""
    in_memory = {id(t) for m in model.modules() if isinstance(m, BaseMemory)
                 for t in m.buffers()}
    state = [b for b in model.buffers() if id(b) not in in_memory]
    return state + [p for p in model.parameters() if not p.requires_grad]


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Stop (``action='stop'``) or skip (``'skip'``) on non-finite losses; check every save.

    In ``default_hooks``: ``nonfinite_guard=dict(type='NonFiniteGuardHook')``.

    * ``'stop'``: every loss term of the model's outputs (``loss`` and each entry whose
      name contains ``loss``, as mmengine sums them) is checked every iteration on the
      device: per term, the first non-finite iteration and its value are kept with
      ``torch.where``, no host synchronisation. The record is read on the host every
      ``check_interval`` iterations (default: the ``LoggerHook`` interval, where the
      losses are read anyway; on CPU every iteration, as a read costs nothing there; a
      given value is used as is), at the end of each epoch and of training, and before
      every checkpoint; a non-finite entry raises :class:`NonFiniteLossError` naming the
      iteration, the epoch, the term(s) and what to try. ``grad_norm`` (logged by
      ``OptimWrapper`` when ``clip_grad`` is set, already a host float) is checked every
      iteration.
    * ``'skip'``: needs ``optim_wrapper=dict(type='NonFiniteSkipOptimWrapper', ...)``
      (checked in ``before_train``; ``--amp`` turns it into
      ``Bf16NonFiniteSkipOptimWrapper``, which is one too). The wrapper skips the optimizer
      step of a non-finite loss or gradient (one host read per step, the price of this
      mode); this hook then restores what the forward pass changed
      (:func:`forward_state`, snapshotted before each iteration), logs the skip,
      keeps the count in the message hub (``nonfinite_skips``, saved in checkpoints and
      restored by ``--resume``) and raises after ``max_skips`` skips in a row. Memory
      banks keep their old row wherever a new feature is non-finite (``SimpleMemory``).

    In both modes ``before_save_checkpoint`` (priority ``VERY_HIGH``: before every other
    hook's, and mmengine writes the file only after all of them) also refuses to save a
    model state dict or optimizer state with a NaN / Inf tensor, naming them.
    """

    priority = 'VERY_HIGH'

    def __init__(self, action: str = 'stop', check_interval: Optional[int] = None,
                 max_skips: int = 10) -> None:
        if action not in ('stop', 'skip'):
            raise ValueError(f"NonFiniteGuardHook action must be 'stop' or 'skip', got {action!r}")
        if (check_interval is not None and check_interval < 1) or max_skips < 1:
            raise ValueError(f'NonFiniteGuardHook needs check_interval >= 1 and max_skips >= 1, '
                             f'got {check_interval} and {max_skips}')
        self.action, self.check_interval, self.max_skips = action, check_interval, max_skips
        self._records: Dict[Tuple[str, ...], torch.Tensor] = {}
        self._epoch_start = 0  # global index of the current epoch's first iteration
        self.skips = self.consecutive_skips = 0
        self._state: Optional[List[torch.Tensor]] = None
        self._saved: List[torch.Tensor] = []
        self._skipped_before = 0
        self._on_cpu = True  # where the losses live (a host read is free on the CPU)

    # ---- set-up -------------------------------------------------------------------------
    def before_train(self, runner) -> None:
        if self.check_interval is None:
            loggers = [h for h in runner.hooks if isinstance(h, LoggerHook)]
            self._interval = loggers[0].interval if loggers else 50
        else:
            self._interval = self.check_interval
        if self.action == 'skip':
            wrapper = runner.optim_wrapper
            wrappers = _wrappers(wrapper)
            if not all(isinstance(w, NonFiniteSkipOptimWrapper) for w in wrappers):
                raise TypeError(
                    "NonFiniteGuardHook(action='skip') needs optim_wrapper=dict(type="
                    "'NonFiniteSkipOptimWrapper', ...) (with --amp it becomes "
                    f"Bf16NonFiniteSkipOptimWrapper), got {type(wrapper).__name__}")
            self._wrappers = wrappers
            self.skips = runner.message_hub.get_info('nonfinite_skips', 0)
            self.consecutive_skips = runner.message_hub.get_info('nonfinite_consecutive_skips', 0)

    # ---- every iteration ----------------------------------------------------------------
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._epoch_start = runner.iter - batch_idx
        if self.action == 'skip':
            if self._state is None:
                self._state = forward_state(_unwrap(runner.model))
                self._saved = [t.clone() for t in self._state]
            elif self._state:
                torch._foreach_copy_(self._saved, self._state)  # device-side, no sync
            self._skipped_before = sum(w.num_skipped for w in self._wrappers)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.action == 'skip':
            self._after_skip_iter(runner, outputs or {})
            return
        self._record(runner.iter, outputs or {})
        grad = runner.message_hub.log_scalars.get('train/grad_norm')
        if grad is not None and not math.isfinite(grad.current()):
            self.check(runner)
            raise self._error(runner, f'non-finite gradient norm at {self._where(runner)}: '
                              f'grad_norm={grad.current()}')
        cpu_default = self._on_cpu and self.check_interval is None
        if cpu_default or self.every_n_train_iters(runner, self._interval):
            self.check(runner)

    def _record(self, iteration: int, outputs: dict) -> None:
        """Per loss term, the first non-finite iteration (``inf``: none) and its value, in
        one ``2 x terms`` float64 tensor on the losses' device, updated with ``torch.where``."""
        names = tuple(k for k, v in outputs.items() if 'loss' in k and torch.is_tensor(v))
        if not names:
            return
        values = torch.stack([outputs[k].detach().double().mean() for k in names])
        self._on_cpu = values.device.type == 'cpu'
        record = self._records.get(names)
        if record is None:
            record = torch.stack([torch.full_like(values, math.inf), torch.zeros_like(values)])
        new = ~torch.isfinite(values) & torch.isinf(record[0])
        self._records[names] = torch.where(
            new, torch.stack([torch.full_like(values, iteration), values]), record)

    def _after_skip_iter(self, runner, outputs: dict) -> None:
        skipped = sum(w.num_skipped for w in self._wrappers) > self._skipped_before
        self.skips += int(skipped)
        self.consecutive_skips = self.consecutive_skips + 1 if skipped else 0
        hub = runner.message_hub
        hub.update_info('nonfinite_skips', self.skips)
        hub.update_info('nonfinite_consecutive_skips', self.consecutive_skips)
        hub.update_scalar('train/nonfinite_skips', self.skips)
        if not skipped:
            return
        if self._state:
            torch._foreach_copy_(self._state, self._saved)
        terms = ', '.join(f'{k}={float(v):.4g}' for k, v in outputs.items()
                          if 'loss' in k and torch.is_tensor(v))
        what = (f'{self._where(runner)} (non-finite loss or gradient; '
                f'{terms or "no loss in the outputs"})')
        if self.consecutive_skips >= self.max_skips:
            raise self._error(runner, f'skipped {self.consecutive_skips} optimizer steps in a '
                              f'row (max_skips={self.max_skips}), the last at {what}')
        runner.logger.warning(f'NonFiniteGuardHook: skipped the optimizer step of {what}: '
                              f'{self.consecutive_skips} in a row, {self.skips} in all')

    # ---- host checks --------------------------------------------------------------------
    def check(self, runner, collective: bool = True) -> None:
        """Read the device-side record (one host read) and raise on a non-finite loss.
        ``collective``: combine every rank's record (all ranks must call it together);
        ``before_save_checkpoint`` runs on rank 0 alone and reads only its own."""
        bad: List[Tuple[int, str, str]] = []
        for names, record in self._records.items():
            mine, values = record.tolist()
            first = mine
            if collective and dist.get_world_size() > 1:  # every rank stops at one check
                reduced = record[0].clone()
                dist.all_reduce(reduced, op='min')
                first = reduced.tolist()
            for name, it, own, val in zip(names, first, mine, values):
                if math.isfinite(it):
                    bad.append((int(it), name, str(val) if own == it else 'on another rank'))
        if bad:
            it = min(b[0] for b in bad)
            terms = ', '.join(f'{name}={val}' for i, name, val in bad if i == it)
            later = sorted({name for i, name, _ in bad if i != it})
            more = f' (later also {", ".join(later)})' if later else ''
            raise self._error(runner, f'non-finite loss at {self._where(runner, it)}: '
                              f'{terms}{more}')

    def check_state(self, runner, when: str) -> None:
        """Raise if a floating tensor of the model or the optimizer state is NaN / Inf."""
        model = _unwrap(runner.model)
        named = list(model.state_dict(keep_vars=False).items())
        names = {id(p): n for n, p in model.named_parameters()}
        for w in _wrappers(runner.optim_wrapper):
            for param, state in w.optimizer.state.items():
                named += [(f'optimizer.{names.get(id(param), "?")}.{k}', v)
                          for k, v in state.items()]
        bad = nonfinite_tensors(named)
        if bad:
            shown = ', '.join(bad[:8]) + (f' and {len(bad) - 8} more' if len(bad) > 8 else '')
            raise self._error(runner, f'non-finite model state {when} '
                              f'({self._where(runner)}): {shown}')

    def after_train_epoch(self, runner) -> None:
        if self.action == 'stop':
            self.check(runner)

    def after_train(self, runner) -> None:
        if self.action == 'stop':
            self.check(runner)
        self.check_state(runner, 'at the end of training')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # only the saving rank is here: no collective (the epoch's collective check ran
        # in after_train_epoch, before the checkpoint hook)
        if self.action == 'stop':
            self.check(runner, collective=False)
        self.check_state(runner, 'in the checkpoint about to be saved (not saved)')

    # ---- messages -----------------------------------------------------------------------
    def _where(self, runner, iteration: Optional[int] = None) -> str:
        """``iteration I (epoch E, iteration i/n of the epoch)``, 1-based as mmengine logs."""
        it = runner.iter if iteration is None else iteration
        where = f'iteration {it + 1}'
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            where += (f' (epoch {runner.epoch + 1}, iteration {it - self._epoch_start + 1}/'
                      f'{len(runner.train_dataloader)} of the epoch)')
        return where

    def _error(self, runner, what: str) -> NonFiniteLossError:
        try:
            ckpt = resolve_last_checkpoint(runner.work_dir)
        except (OSError, ValueError):  # a broken record must not hide the NaN error
            ckpt = None
        resume = (f'resume from the last good checkpoint ({ckpt}): tools/train.py CONFIG '
                  f'--work-dir {runner.work_dir} --resume' if ckpt else
                  'start again (no checkpoint was saved yet)')
        tips = ['a lower learning rate (optim_wrapper.optimizer.lr)',
                'a warm-up (a LinearLR in param_scheduler)',
                'gradient clipping (optim_wrapper.clip_grad=dict(max_norm=...))']
        if any(isinstance(w, Bf16Autocast) or 'Amp' in type(w).__name__
               for w in _wrappers(runner.optim_wrapper)):
            tips.append('training without --amp')
        if self.action == 'stop':
            tips.append("skipping bad steps (NonFiniteGuardHook action='skip')")
        message = (f'{what}. Training stopped; nothing of this state was saved. Try '
                   f'{", ".join(tips)}; then {resume}')
        runner.logger.error(message)
        return NonFiniteLossError(message)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


def _wrappers(wrapper) -> list:
    return list(wrapper.values()) if isinstance(wrapper, OptimWrapperDict) else [wrapper]

