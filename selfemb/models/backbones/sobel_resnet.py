"""Super-AND's two-trunk backbone: an RGB trunk and a Sobel-edge trunk, concatenated.

Han et al., "Super-AND: A Holistic Approach to Unsupervised Embedding Learning" (2020),
Fig. 2: original and Sobel-processed images go through two CNNs of the same architecture
(separate weights), and their pooled features are concatenated before the 128-d
projection. The official ``ResNetwithSobel`` does this for ResNet-18 / 101.
"""
import copy
from typing import Sequence, Tuple

import torch
from mmengine.model import BaseModule

from selfemb.registry import MODELS

from ..necks.linear_neck import last_feature
from ..utils.sobel import SobelFilter


@MODELS.register_module()
class SobelResNet(BaseModule):
    """RGB trunk + Sobel trunk; returns ``(cat(pool(rgb), pool(sobel)),)``.

    ``trunk`` is built twice: as given for the RGB input (:attr:`trunk`), and with
    ``in_channels=2`` (:attr:`sobel_trunk`) for the fixed, non-trainable
    gray -> Sobel-x / Sobel-y image (:class:`~selfemb.models.utils.SobelFilter`). Each
    trunk's last output stage is global-average pooled and the two vectors are
    concatenated, e.g. ``2 x 512 = 1024`` channels for ResNet-18, so a
    ``LinearNeck(1024 -> 128)`` follows (as the official ``linear(512 * 2, 128)``).

    **Transfer** (kNN on the backbone, linear probe, detection / segmentation) uses the
    RGB trunk alone: its weights are the state dict under ``backbone.trunk.``, a plain
    mmpretrain backbone of the ``trunk`` config. The Sobel trunk only shapes training
    (and the 128-d embedding the kNN monitor evaluates).

    Args:
        trunk: Config of one trunk, an mmpretrain backbone that accepts ``in_channels``,
            e.g. ``dict(type='mmpretrain.ResNet_CIFAR', depth=18)``.
        with_sobel: Build the Sobel trunk (``False``: the RGB trunk alone, 512 channels
            for ResNet-18 — the paper's "w/o Sobel" ablation).
        gray_weights: Weights of the fixed RGB -> gray 1x1 conv (official: 1/3 each,
            applied to the normalised image).
        sobel_padding: ``'zeros'`` (official) or ``'replicate'``.
    """

    def __init__(self, trunk: dict, with_sobel: bool = True,
                 gray_weights: Sequence[float] = (1 / 3, 1 / 3, 1 / 3),
                 sobel_padding: str = 'zeros', init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(trunk, dict) or 'type' not in trunk:
            raise ValueError(f"SobelResNet: trunk must be a backbone config with a 'type', "
                             f'got {trunk!r}')
        self.with_sobel = with_sobel
        self.trunk = MODELS.build(copy.deepcopy(trunk))
        if with_sobel:
            self.sobel = SobelFilter(gray_weights, sobel_padding)
            sobel_cfg = copy.deepcopy(trunk)
            sobel_cfg['in_channels'] = 2
            try:
                self.sobel_trunk = MODELS.build(sobel_cfg)
            except TypeError as err:
                raise TypeError(f"SobelResNet: trunk {trunk['type']!r} cannot be built with "
                                f'in_channels=2 for the Sobel input ({err})') from err

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        feats = [last_feature(self.trunk(x))]
        if self.with_sobel:
            feats.append(last_feature(self.sobel_trunk(self.sobel(x))))
        return (torch.cat(feats, dim=1), )
