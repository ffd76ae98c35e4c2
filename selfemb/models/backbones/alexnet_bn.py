"""AlexNet with batch normalisation, the DeepCluster / UIC variant.

mmpretrain's ``AlexNet`` has no BN. UIC (Chen et al., ECCVW 2020, §4.1) follows
DeepCluster (Caron et al., ECCV 2018): the five conv layers of AlexNet with
96-256-384-384-256 filters, the Local Response Normalisation replaced by batch norm
(conv -> BN -> ReLU), 3x3 / 2 max-pooling after conv1, conv2 and conv5; the input is
RGB (3 channels) or the 2-channel Sobel image. A 224-pixel input gives a
``256 x 6 x 6`` conv5 map (fc6 / fc7 and the classifier live in ``UICHead``).
"""
from typing import Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn

from selfemb.registry import MODELS

#: (out_channels, kernel, stride, padding, max-pool after) of conv1..conv5
CONV_LAYERS = ((96, 11, 4, 2, True), (256, 5, 1, 2, True), (384, 3, 1, 1, False),
               (384, 3, 1, 1, False), (256, 3, 1, 1, True))


@MODELS.register_module()
class AlexNetBN(BaseModule):
    """AlexNet conv1–conv5 with BN; returns the outputs of the stages in ``out_indices``.

    Args:
        in_channels: 3 (RGB) or 2 (Sobel-x / Sobel-y, e.g. ``UIC(sobel=True)``).
        out_indices: Stages to return, 0..4 = conv1..conv5 (each after its ReLU and, for
            conv1 / conv2 / conv5, its max-pool).
        frozen_stages: Stages ``0..frozen_stages`` are frozen (eval BN, no gradient);
            -1 freezes none (linear probes of conv_k freeze up to k).
    """

    def __init__(self, in_channels: int = 3, out_indices: Sequence[int] = (4, ),
                 frozen_stages: int = -1, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg or [
            dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu'),
            dict(type='Constant', layer='BatchNorm2d', val=1)])
        if in_channels < 1:
            raise ValueError(f'AlexNetBN in_channels must be >= 1, got {in_channels}')
        out_indices = tuple(out_indices)
        if not out_indices or any(not 0 <= i < len(CONV_LAYERS) for i in out_indices):
            raise ValueError(f'AlexNetBN out_indices must be in 0..{len(CONV_LAYERS) - 1}, '
                             f'got {out_indices}')
        self.out_indices, self.frozen_stages = out_indices, frozen_stages
        stages, width = [], in_channels
        for out, kernel, stride, padding, pool in CONV_LAYERS:
            layers = [nn.Conv2d(width, out, kernel, stride, padding),
                      nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            if pool:
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2))
            stages.append(nn.Sequential(*layers))
            width = out
        self.stages = nn.ModuleList(stages)
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if x.dim() != 4 or x.size(1) != self.stages[0][0].in_channels:
            raise ValueError(f'AlexNetBN expects B x {self.stages[0][0].in_channels} x H x W '
                             f'inputs, got {tuple(x.shape)}')
        if min(x.shape[-2:]) < 63:
            raise ValueError(f'AlexNetBN needs inputs of at least 63 x 63 pixels (three '
                             f'3x3/2 max-pools after a stride-4 conv), got {tuple(x.shape[-2:])}')
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        for stage in self.stages[:self.frozen_stages + 1]:
            stage.eval()
            for param in stage.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'AlexNetBN':
        super().train(mode)
        self._freeze_stages()
        return self
