"""mmengine's RuntimeInfoHook without a host read of the losses every iteration."""
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.hooks import LoggerHook, RuntimeInfoHook
from mmengine.utils import apply_to

from selfemb.registry import HOOKS

__all__ = ['DeferredRuntimeInfoHook', 'flush_logged_scalars']

#: one iteration's outputs: (key, group, position) per output, and per group the
#: outputs stacked into one tensor
_Iteration = Tuple[List[Tuple[str, tuple, int]], Dict[tuple, torch.Tensor]]


@HOOKS.register_module()
class DeferredRuntimeInfoHook(RuntimeInfoHook):
    """``RuntimeInfoHook`` whose per-iteration outputs stay on the device until read.

    mmengine's hook writes every model output into the message hub after each iteration,
    and the hub's ``HistoryBuffer`` stores a tensor with ``.item()``: one host
    synchronisation per loss term per iteration. Here the outputs of an iteration are
    detached and stacked (one tensor per device and dtype, a snapshot) and written into
    the message hub, in iteration order with one ``tolist()`` per device and dtype, just
    before anything reads them:

    * after an iteration at which a ``LoggerHook`` prints (its ``interval``, the last
      iteration of an epoch) and after the last training iteration;
    * at the end of every epoch (before that epoch's checkpoint, kNN evaluation and
      validation), before validation and testing, and at the end of training;
    * before a checkpoint is saved (its ``message_hub`` entry is then taken again);
    * when an output key appears for the first time (mmengine's key order, hence the
      order of the log's columns), and when ``max_pending`` iterations are waiting.

    Whenever the message hub is read it therefore holds exactly what ``RuntimeInfoHook``
    would have put there: the text log (same numbers, same smoothing window), the json
    scalars and the checkpoints are unchanged. A custom hook that reads training scalars
    of the message hub at other iterations calls :func:`flush_logged_scalars` first.
    Outputs that are not one-element tensors are written at once, as mmengine does.

    In ``default_hooks``: ``runtime_info=dict(type='DeferredRuntimeInfoHook')``.

    Args:
        max_pending: Iterations kept on the device at most (bounds the memory without a
            ``LoggerHook``).
    """

    priority = 'VERY_HIGH'

    def __init__(self, max_pending: int = 1000) -> None:
        if max_pending < 1:
            raise ValueError(f'DeferredRuntimeInfoHook max_pending must be >= 1, '
                             f'got {max_pending}')
        self.max_pending = max_pending
        self._pending: List[_Iteration] = []

    # ---- buffering ------------------------------------------------------------------------
    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs:
            return
        hub = runner.message_hub
        deferrable = all(torch.is_tensor(v) and v.numel() == 1 for v in outputs.values())
        if not deferrable or any(f'train/{k}' not in hub.log_scalars for k in outputs):
            self.flush(runner)
            super().after_train_iter(runner, batch_idx, data_batch, outputs)
            return
        self._pending.append(self._snapshot(outputs))
        if self._read_after(runner, batch_idx) or len(self._pending) >= self.max_pending:
            self.flush(runner)

    @staticmethod
    def _snapshot(outputs: dict) -> _Iteration:
        """The outputs detached and stacked per (device, dtype): one small copy each."""
        groups: Dict[tuple, List[torch.Tensor]] = {}
        slots = []
        for key, value in outputs.items():
            group = (value.device, value.dtype)
            members = groups.setdefault(group, [])
            slots.append((key, group, len(members)))
            members.append(value.detach().reshape(()))
        return slots, {group: torch.stack(values) for group, values in groups.items()}

    def _read_after(self, runner, batch_idx: int) -> bool:
        """Whether a hook reads the training scalars after this iteration."""
        if self.is_last_train_iter(runner):
            return True
        for hook in runner.hooks:
            if isinstance(hook, LoggerHook) and (
                    self.every_n_inner_iters(batch_idx, hook.interval)
                    or self.end_of_epoch(runner.train_dataloader, batch_idx)):
                return True
        return False

    def flush(self, runner) -> None:
        """Write the waiting iterations into the message hub (one host read per device
        and dtype)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        stacked: Dict[tuple, List[torch.Tensor]] = {}
        lengths: Dict[tuple, int] = {}
        offsets = []
        for _, groups in pending:
            offset = {}
            for group, values in groups.items():
                offset[group] = lengths.get(group, 0)
                lengths[group] = offset[group] + values.numel()
                stacked.setdefault(group, []).append(values)
            offsets.append(offset)
        host = {group: torch.cat(parts).tolist() for group, parts in stacked.items()}
        hub = runner.message_hub
        for (slots, _), offset in zip(pending, offsets):
            for key, group, position in slots:
                hub.update_scalar(f'train/{key}', host[group][offset[group] + position])

    # ---- every reader -------------------------------------------------------------------
    def after_train_epoch(self, runner) -> None:
        self.flush(runner)

    def before_val(self, runner) -> None:
        self.flush(runner)
        super().before_val(runner)

    def before_test(self, runner) -> None:
        self.flush(runner)
        super().before_test(runner)

    def after_train(self, runner) -> None:
        self.flush(runner)
        super().after_train(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._pending:  # a save between flushes: the hub state again, complete
            self.flush(runner)
            checkpoint['message_hub'] = apply_to(runner.message_hub.state_dict(),
                                                 lambda x: hasattr(x, 'cpu'), lambda x: x.cpu())


def flush_logged_scalars(runner) -> None:
    """Write the training scalars a :class:`DeferredRuntimeInfoHook` of ``runner`` keeps on
    the device into the message hub (for a hook that reads them between log intervals)."""
    for hook in runner.hooks:
        if isinstance(hook, DeferredRuntimeInfoHook):
            hook.flush(runner)
