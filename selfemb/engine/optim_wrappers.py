"""An optim wrapper that skips the optimizer step of a non-finite loss or gradient.

Part of the non-finite guard (DESIGN §7: a NaN loss gets a clear error and loses no
checkpoint); used with ``NonFiniteGuardHook(action='skip')``, which counts and reports
the skips, restores the rest of the model and stops after too many in a row.
"""
from typing import Optional

import torch
from mmengine import dist
from mmengine.optim import OptimWrapper
from torch.nn.utils import get_total_norm

from selfemb.registry import OPTIM_WRAPPERS


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
