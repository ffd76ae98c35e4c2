"""Head of ISIF (Ye et al., CVPR 2019)."""
from typing import Dict

import torch
from mmengine.dist import get_rank, get_world_size

from selfemb.registry import MODELS

from ..losses import instance_spread_anchor_loss, instance_spread_loss
from ..utils import all_gather_cat
from .base import InstanceBatch, InstanceHead


@MODELS.register_module()
class InstanceSpreadHead(InstanceHead):
    """In-batch instance softmax over two views; see :func:`instance_spread_loss`.

    Reads ``batch.views[0]`` and ``batch.views[1]``; returns ``dict(loss=...)``.

    Args:
        temperature: τ (0.1 in the paper).
        detach_key: Gradient through the anchor side only (the official code's
            convention, default ``True``).
        gather_keys: In a multi-process run, all-gather the (detached) features of every
            rank and score this rank's ``2B`` anchors against all ``2BW`` keys, as the
            official single-process DataParallel run sees the whole batch. The loss is
            the mean over the local anchors, so DDP's gradient average equals the gradient
            of eq. 7 over the concatenated ``2BW`` batch. Needs ``detach_key=True`` (keys
            of other ranks carry no gradient) and the same batch size on every rank.
            Single process: identical to ``False``.
    """

    num_views = 2
    reads_indices = False

    def __init__(self, temperature: float = 0.1, detach_key: bool = True,
                 gather_keys: bool = False, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if gather_keys and not detach_key:
            raise ValueError('InstanceSpreadHead: gather_keys=True needs detach_key=True '
                             '(gathered keys of other ranks carry no gradient), got '
                             'detach_key=False')
        self.temperature = temperature
        self.detach_key = detach_key
        self.gather_keys = gather_keys

    def loss(self, batch: InstanceBatch) -> Dict[str, torch.Tensor]:
        return dict(loss=self.spread_loss(batch.views[0], batch.views[1]))

    def spread_loss(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        """Loss of the ``B x D`` embeddings of two views of the same ``B`` images."""
        if view1.shape != view2.shape:
            raise ValueError(f'views differ in shape: {tuple(view1.shape)} vs '
                             f'{tuple(view2.shape)}')
        features = torch.cat([view1, view2])
        if not self.gather_keys or get_world_size() == 1:
            return instance_spread_loss(features, self.temperature, self.detach_key)
        n = features.size(0)
        if n < 4:
            raise ValueError(f'InstanceSpreadHead needs B >= 2 per rank, got B={n // 2}')
        keys = all_gather_cat(features.detach())
        rows = torch.arange(n, device=features.device)
        offset = get_rank() * n  # this rank's block of the gathered keys
        return instance_spread_anchor_loss(features, keys, offset + rows,
                                           offset + (rows + n // 2) % n, self.temperature,
                                           check=False)  # valid by construction
