"""selfemb's optim wrappers: bf16 autocast without loss scaling, and skipping the
optimizer step of a non-finite loss or gradient.

* :class:`Bf16OptimWrapper` is what ``--amp`` selects (:func:`bf16_wrapper_type`):
  mmengine's ``OptimWrapper`` under ``torch.autocast(dtype=torch.bfloat16)``. bf16 has
  float32's exponent range, so it needs no ``GradScaler``, whose found-inf check (in
  mmengine's ``AmpOptimWrapper``) reads the device on the host every step.
* :class:`NonFiniteSkipOptimWrapper` is part of the non-finite guard (DESIGN §7: a NaN
  loss gets a clear error and loses no checkpoint); used with
  ``NonFiniteGuardHook(action='skip')``, which counts and reports the skips, restores
  the rest of the model and stops after too many in a row. With ``--amp`` it becomes
  :class:`Bf16NonFiniteSkipOptimWrapper` (both behaviours).
"""
from contextlib import contextmanager
from typing import Dict, Optional

import torch
from mmengine import dist
from mmengine.optim import OptimWrapper
from torch import nn
from torch.nn.utils import get_total_norm

from selfemb.registry import OPTIM_WRAPPERS


class Bf16Autocast:
    """Mixin for an ``OptimWrapper``: its ``optim_context`` (where mmengine runs the data
    preprocessor and the forward pass) also enters ``torch.autocast`` with bfloat16 on
    the model's device type. Backward, gradient clipping and accumulation, the step and
    the state dict are those of the wrapper it is mixed into: no loss scaling, so no
    host synchronisation is added (gradient clipping, when configured, reads the norm on
    the host for the log, as in ``OptimWrapper``)."""

    @contextmanager
    def optim_context(self, model: nn.Module):
        param = next(model.parameters(), None)
        device_type = param.device.type if param is not None else 'cpu'
        with super().optim_context(model), torch.autocast(device_type, dtype=torch.bfloat16):
            yield

    def load_state_dict(self, state_dict: dict) -> None:
        """The optimizer state; the loss scaler of a checkpoint written under mmengine's
        ``AmpOptimWrapper`` (an earlier ``--amp`` run) is dropped."""
        super().load_state_dict({k: v for k, v in state_dict.items() if k != 'loss_scaler'})


@OPTIM_WRAPPERS.register_module()
class Bf16OptimWrapper(Bf16Autocast, OptimWrapper):
    """``OptimWrapper`` (same arguments) with the forward pass under bf16 autocast and
    no loss scaling (:class:`Bf16Autocast`). ``--amp`` selects it; in a config:
    ``optim_wrapper = dict(type='Bf16OptimWrapper', optimizer=...)``."""


@OPTIM_WRAPPERS.register_module()
class NonFiniteSkipOptimWrapper(OptimWrapper):
    """mmengine's ``OptimWrapper`` that does not step when the loss or a gradient is NaN/Inf.

    :meth:`backward` records on the device whether the loss is finite (over all the
    micro-batches of a gradient accumulation). :meth:`step` combines that flag with the
    gradients' ∞-norm (NaN or Inf iff some entry is; a large finite gradient is not a
    reason to skip) and reads the result on the host: **one host synchronisation per
    optimizer step**, the price of deciding on the host. A finite update steps as
    ``OptimWrapper`` does (gradient clipping included); otherwise the step is skipped:
    parameters and optimizer state (momentum, weight decay, Adam moments) stay as they
    were, and the usual ``zero_grad`` drops the gradients. In a distributed run the
    decision is all-reduced, so every rank skips or steps together.

    :attr:`num_skipped` counts the skipped steps of this process. Put
    ``nonfinite_guard=dict(type='NonFiniteGuardHook', action='skip')`` in
    ``default_hooks`` as well: it logs each skip, stores the count in the message hub
    (hence in checkpoints), undoes the forward pass's other changes (BatchNorm
    statistics, momentum encoders) and stops the run after ``max_skips`` skips in a row.

    Config: ``optim_wrapper = dict(type='NonFiniteSkipOptimWrapper', optimizer=...)``,
    with the arguments of ``OptimWrapper``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.num_skipped = 0
        self._loss_finite: Optional[torch.Tensor] = None

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        """Record (device-side) whether ``loss`` is finite, then back-propagate it."""
        finite = torch.isfinite(loss.detach()).all()
        self._loss_finite = finite if self._loss_finite is None else self._loss_finite & finite
        super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        """Step as ``OptimWrapper`` if the loss and the gradients are finite, else skip."""
        finite = self.update_is_finite()
        self._loss_finite = None
        if finite:
            super().step(**kwargs)
        else:
            self.num_skipped += 1

    def update_is_finite(self) -> bool:
        """Whether the recorded loss(es) and every gradient are finite, on every rank."""
        grads = [p.grad for group in self.optimizer.param_groups for p in group['params']
                 if p.grad is not None]
        flags = [] if self._loss_finite is None else [self._loss_finite]
        if grads:
            flags.append(torch.isfinite(get_total_norm(grads, float('inf'))))
        if not flags:
            return True
        device = flags[0].device
        finite = torch.stack([flag.to(device) for flag in flags]).all().to(torch.int32)
        if dist.get_world_size() > 1:
            dist.all_reduce(finite, op='min')
        return bool(finite)


@OPTIM_WRAPPERS.register_module()
class Bf16NonFiniteSkipOptimWrapper(Bf16Autocast, NonFiniteSkipOptimWrapper):
    """:class:`NonFiniteSkipOptimWrapper` with the forward pass under bf16 autocast
    (:class:`Bf16Autocast`): what ``--amp`` makes of a config that skips non-finite steps;
    ``NonFiniteGuardHook(action='skip')`` accepts it."""


#: the bf16 counterpart ``--amp`` gives each optim wrapper type
BF16_WRAPPERS: Dict[str, str] = {
    'OptimWrapper': 'Bf16OptimWrapper',
    'NonFiniteSkipOptimWrapper': 'Bf16NonFiniteSkipOptimWrapper',
}


def bf16_wrapper_type(wrapper_type: str = 'OptimWrapper') -> str:
    """The optim wrapper type ``--amp`` uses in place of ``wrapper_type`` (a bf16 type is
    kept); any other type is an error that lists the supported ones."""
    if wrapper_type in BF16_WRAPPERS.values():
        return wrapper_type
    if wrapper_type not in BF16_WRAPPERS:
        raise ValueError(f'--amp: optim_wrapper type {wrapper_type!r} has no bf16 variant; '
                         f'supported: {", ".join(BF16_WRAPPERS)} (or set a bf16 type in the '
                         f'config: {", ".join(BF16_WRAPPERS.values())})')
    return BF16_WRAPPERS[wrapper_type]
