"""MLP projection head (SimCLR / MoCo v2 / InterCLR style)."""
from typing import Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from selfemb.registry import MODELS

from .linear_neck import last_feature


@MODELS.register_module()
class NonLinearNeck(BaseModule):
    """Pool, then ``num_layers`` linear layers with (optional BN and) ReLU between them.

    Args:
        in_channels: Channels of the backbone's last stage.
        hid_channels: Width of the hidden layers (2048 in InterCLR).
        out_channels: Embedding dimension.
        num_layers: Number of linear layers (>= 2).
        with_bn: BatchNorm after each hidden linear layer.
        norm: L2-normalise the output.
    """

    def __init__(self, in_channels: int, hid_channels: int = 2048, out_channels: int = 128,
                 num_layers: int = 2, with_bn: bool = False, with_avg_pool: bool = True,
                 norm: bool = True, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_layers < 2:
            raise ValueError(f'NonLinearNeck needs num_layers >= 2, got {num_layers}; '
                             'use LinearNeck for a single layer')
        self.with_avg_pool = with_avg_pool
        self.norm = norm
        layers, width = [], in_channels
        for _ in range(num_layers - 1):
            layers.append(nn.Linear(width, hid_channels, bias=not with_bn))
            if with_bn:
                layers.append(nn.BatchNorm1d(hid_channels))
            layers.append(nn.ReLU(inplace=True))
            width = hid_channels
        layers.append(nn.Linear(width, out_channels))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        z = self.mlp(last_feature(x, self.with_avg_pool))
        return F.normalize(z, dim=1) if self.norm else z
