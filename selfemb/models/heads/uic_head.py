"""UIC's classifier over K pseudo classes (Chen et al., ECCVW 2020)."""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from selfemb.registry import MODELS

from ..losses import pseudo_label_loss


@MODELS.register_module()
class UICHead(BaseModule):
    """Pool, optional hidden layers ([dropout,] linear, [BN,] ReLU), then the linear
    classifier ``W`` to K pseudo classes; its loss is
    :func:`~selfemb.models.losses.pseudo_label_loss`.

    ``pool_size=1`` global-average pools a 4-D backbone output (ResNet); AlexNet's
    fc6/fc7 read the flattened ``256 x 6 x 6`` conv5 map (``pool_size=6``: an adaptive
    average pool that is the identity for 224-pixel inputs). 2-D inputs (after a neck)
    are used as they are.

    Args:
        in_channels: Input features after pooling and flattening (e.g. 2048, 9216).
        num_classes: K pseudo classes (set by the ``UIC`` algorithm).
        hid_channels: Widths of hidden layers before the classifier, e.g.
            ``(4096, 4096)`` for AlexNet's fc6 / fc7; each is ``[dropout,] linear, ReLU``.
        dropout: Dropout probability before each hidden layer (0.5 in the paper).
        pool_size: Output side of the adaptive average pool of 4-D inputs.
        norm: Each hidden layer is ``[dropout,] linear (no bias), BatchNorm1d, ReLU``:
            the official ResNet-50 head (two 1x1 convs 2048 -> 2048, each with BN and
            ReLU, on the pooled feature).
        fc_std: The classifier ``W`` starts as ``N(0, fc_std²)`` with zero bias, as in the
            official code (ResNet-50 and DeepCluster's AlexNet: 0.01); ``None`` keeps
            PyTorch's default ``nn.Linear`` init. Hidden layers keep PyTorch's default unless
            ``init_cfg`` says otherwise (the ResNet-50 config: Kaiming normal, fan_out).
    """

    def __init__(self, in_channels: int, num_classes: int = 0, hid_channels: Sequence[int] = (),
                 dropout: float = 0.0, pool_size: int = 1, norm: bool = False,
                 fc_std: Optional[float] = 0.01, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if (num_classes < 1 or in_channels < 1 or pool_size < 1 or not 0 <= dropout < 1
                or (fc_std is not None and fc_std <= 0)):
            raise ValueError(f'UICHead needs num_classes >= 1, in_channels >= 1, pool_size >= '
                             f'1, 0 <= dropout < 1 and fc_std > 0 or None, got num_classes='
                             f'{num_classes}, in_channels={in_channels}, pool_size='
                             f'{pool_size}, dropout={dropout}, fc_std={fc_std}')
        self.num_classes, self.pool_size = num_classes, pool_size
        layers, width = [], in_channels
        for hidden in hid_channels:
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            layers.append(nn.Linear(width, hidden, bias=not norm))
            if norm:
                layers.append(nn.BatchNorm1d(hidden))
            layers.append(nn.ReLU(inplace=True))
            width = hidden
        self.hidden = nn.Sequential(*layers)
        self.fc = nn.Linear(width, num_classes)
        if fc_std is not None:
            nn.init.normal_(self.fc.weight, 0.0, fc_std)
            nn.init.zeros_(self.fc.bias)
        self.feat_dim = width

    def features(self, x: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        """The representation the classifier reads (pooled input through the hidden layers)."""
        if isinstance(x, (tuple, list)):
            x = x[-1]
        if x.dim() == 4:
            x = F.adaptive_avg_pool2d(x, self.pool_size)
        return self.hidden(x.flatten(1))

    def forward(self, x: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        """``B x K`` logits."""
        return self.fc(self.features(x))

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return pseudo_label_loss(logits, labels)
