"""Head of AND: the non-parametric classifier with anchor neighbourhoods."""
from typing import Dict

import torch

from selfemb.registry import MODELS

from ..losses import neighbourhood_loss
from .base import InstanceBatch, InstanceHead, mean_over_views


@MODELS.register_module()
class ANDHead(InstanceHead):
    """AND's loss against the memory bank (Huang et al., ICML 2019; Super-AND eq. 1, 10).

    ``logits = v · Mᵀ / τ`` over all N bank rows (the bank gets no gradient), then
    :func:`~selfemb.models.losses.neighbourhood_loss`: ``-log(p_ii + Σ_{j∈N(i)} p_ij)``
    for the round's anchors, ``-log p_ii`` for the other samples. Reads ``batch.views``,
    ``bank``, ``indices``, ``neighbours`` and ``anchor`` (a ``NeighbourhoodMemory``);
    returns ``dict(loss=...)``, averaged over the views.

    Args:
        temperature: τ (0.1 in AND).
    """

    def __init__(self, temperature: float = 0.1, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if temperature <= 0:
            raise ValueError(f'{type(self).__name__} temperature must be > 0, got {temperature}')
        self.temperature = temperature

    def logits(self, features: torch.Tensor, bank: torch.Tensor) -> torch.Tensor:
        """``B x N`` fp32 logits ``v · Mᵀ / τ`` of ``B x D`` embeddings (bank detached).

        Autocast is switched off around the matmul: inside an fp16 / bf16 autocast region
        it would otherwise run (and return) in half precision despite the fp32 inputs.
        """
        with torch.autocast(device_type=features.device.type, enabled=False):
            return features.float() @ bank.detach().t().float() / self.temperature

    def neighbourhood(self, batch: InstanceBatch):
        """``(bank, indices, neighbours, anchor)`` of the batch, each required."""
        return tuple(batch.require(name, self)
                     for name in ('bank', 'indices', 'neighbours', 'anchor'))

    def loss(self, batch: InstanceBatch) -> Dict[str, torch.Tensor]:
        bank, indices, neighbours, anchor = self.neighbourhood(batch)
        return dict(loss=mean_over_views(batch, lambda v: neighbourhood_loss(
            self.logits(v, bank), indices, neighbours, anchor)))
