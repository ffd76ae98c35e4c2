"""Linear projection to the embedding space (NPID / ISIF: fc -> 128 -> L2)."""
from typing import Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from selfemb.registry import MODELS


def last_feature(x: Union[torch.Tensor, Sequence[torch.Tensor]],
                 with_avg_pool: bool = True) -> torch.Tensor:
    """The last backbone stage of ``x`` (mmpretrain backbones return tuples), pooled."""
    if isinstance(x, (tuple, list)):
        x = x[-1]
    if with_avg_pool and x.dim() == 4:
        x = F.adaptive_avg_pool2d(x, 1)
    return x.flatten(1)


@MODELS.register_module()
class LinearNeck(BaseModule):
    """Global average pool, one linear layer, optional L2 normalisation.

    Args:
        in_channels: Channels of the backbone's last stage.
        out_channels: Embedding dimension (128 in NPID / ISIF).
        with_avg_pool: Pool 4-D inputs to vectors first.
        norm: L2-normalise the output (the embedding lives on the unit sphere).
    """

    def __init__(self, in_channels: int, out_channels: int = 128, with_avg_pool: bool = True,
                 norm: bool = True, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.with_avg_pool = with_avg_pool
        self.norm = norm
        self.fc = nn.Linear(in_channels, out_channels)

    def forward(self, x: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        z = self.fc(last_feature(x, self.with_avg_pool))
        return F.normalize(z, dim=1) if self.norm else z
