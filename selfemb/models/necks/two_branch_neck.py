"""CLD's two heads on one pooled feature: instance branch f_I and group branch f_G."""
from typing import Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from selfemb.registry import MODELS

from .linear_neck import last_feature


class NormedLinear(nn.Module):
    """``normalise(x) · normalise(W)``: a bias-free linear layer on unit input and unit
    weight columns (cosine scores); the official CLD code's ``--normlinear`` layer."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        nn.init.uniform_(self.weight, -1, 1)
        with torch.no_grad():
            self.weight.copy_(F.normalize(self.weight, dim=0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) @ F.normalize(self.weight, dim=0)


def _branch(kind: str, in_channels: int, out_channels: int, name: str) -> nn.Module:
    if kind == 'linear':
        return nn.Linear(in_channels, out_channels)
    if kind == 'normed_linear':
        return NormedLinear(in_channels, out_channels)
    raise ValueError(f"TwoBranchNeck {name} must be 'linear' or 'normed_linear', got {kind!r}")


@MODELS.register_module()
class TwoBranchNeck(BaseModule):
    """Global average pool, then two layers on the shared feature ``f``; both L2-normalised.

    ``forward`` returns ``(f_I(x), f_G(x))``: the instance embedding (what the kNN monitor
    and the memory bank / queue use) and the group embedding (clustered by CLD).

    Args:
        in_channels: Channels of the backbone's last stage.
        out_channels: Instance embedding dimension (128).
        group_channels: Group embedding dimension (128 in the official code).
        instance_layer, group_layer: ``'linear'`` (with bias) or ``'normed_linear'``
            (unit input and weight columns, no bias). The official code switches BOTH
            branches at once (``--normlinear``): plain ``Linear`` by default (its
            NPID+CLD CIFAR and ImageNet recipes), ``NormedLinear`` in its CLDm CIFAR
            recipe; its ImageNet ResNet without MLP head always uses ``Linear``.
        with_avg_pool: Pool 4-D inputs to vectors first.
    """

    def __init__(self, in_channels: int, out_channels: int = 128, group_channels: int = 128,
                 instance_layer: str = 'linear', group_layer: str = 'linear',
                 with_avg_pool: bool = True, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.with_avg_pool = with_avg_pool
        self.instance_fc = _branch(instance_layer, in_channels, out_channels, 'instance_layer')
        self.group_fc = _branch(group_layer, in_channels, group_channels, 'group_layer')

    def forward(self, x: Union[torch.Tensor, Sequence[torch.Tensor]]
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        f = last_feature(x, self.with_avg_pool)
        return (F.normalize(self.instance_fc(f), dim=1),
                F.normalize(self.group_fc(f), dim=1))
