"""A momentum (EMA) encoder whose update never synchronises with the host."""
import torch
from mmengine.model import ExponentialMovingAverage
from torch import nn


class MomentumEncoder(ExponentialMovingAverage):
    """mmengine's ``ExponentialMovingAverage`` (same arguments, same state dict and the
    same update, ``θ_avg <- (1 - momentum) θ_avg + momentum θ``, a copy on the first
    update) for the key encoders of CLDm and InterCLR.

    mmengine decides between the first copy and an average by comparing its ``steps``
    buffer with 0 on the host, a device read every training step on a GPU; here the
    count is mirrored by a host integer (restored with the state dict), and ``steps``
    is still advanced on the device for checkpoints. With ``interval=1`` (every update
    averages after the first) the host count stops at 1, so nothing held in Python
    changes after the first update.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._host_steps = 0

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        source = model.state_dict() if self.update_buffers else dict(model.named_parameters())
        if self._host_steps == 0:
            for name, averaged in self.avg_parameters.items():
                averaged.data.copy_(source[name].data)
        elif self._host_steps % self.interval == 0:
            for name, averaged in self.avg_parameters.items():
                if averaged.dtype.is_floating_point:
                    self.avg_func(averaged.data, source[name].data.to(averaged.device),
                                  self.steps)
        if not self.update_buffers:  # the buffers follow the online model
            for averaged, buffer in zip(self.module.buffers(), model.buffers()):
                averaged.data.copy_(buffer.data.to(averaged.device))
        self.steps += 1
        self._host_steps = self._host_count(self._host_steps + 1)

    def _host_count(self, steps: int) -> int:
        """What the branches need of the update count: all of it, or (``interval=1``)
        only whether it is 0."""
        return min(steps, 1) if self.interval == 1 else steps

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._host_steps = self._host_count(int(self.steps))
