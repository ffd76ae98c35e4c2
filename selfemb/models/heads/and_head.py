"""Head of AND: the non-parametric classifier with anchor neighbourhoods."""
import torch
from mmengine.model import BaseModule

from selfemb.registry import MODELS

from ..losses import neighbourhood_loss
from ..memories import NeighbourhoodMemory


@MODELS.register_module()
class ANDHead(BaseModule):
    """AND's loss against a :class:`~selfemb.models.memories.NeighbourhoodMemory`
    (Huang et al., ICML 2019; Super-AND eq. 1 and 10).

    ``logits = v · Mᵀ / τ`` over all N bank rows (the bank gets no gradient), then
    :func:`~selfemb.models.losses.neighbourhood_loss`: ``-log(p_ii + Σ_{j∈N(i)} p_ij)``
    for the round's anchors, ``-log p_ii`` for the other samples.

    Args:
        temperature: τ (0.1 in AND).
    """

    def __init__(self, temperature: float = 0.1, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if temperature <= 0:
            raise ValueError(f'ANDHead temperature must be > 0, got {temperature}')
        self.temperature = temperature

    def logits(self, features: torch.Tensor, bank: torch.Tensor) -> torch.Tensor:
        """``B x N`` fp32 logits ``v · Mᵀ / τ`` of ``B x D`` embeddings (bank detached).

        Autocast is switched off around the matmul: inside an fp16 / bf16 autocast region
        it would otherwise run (and return) in half precision despite the fp32 inputs.
        """
        with torch.autocast(device_type=features.device.type, enabled=False):
            return features.float() @ bank.detach().t().float() / self.temperature

    def loss_from_logits(self, logits: torch.Tensor, memory: NeighbourhoodMemory,
                         indices: torch.Tensor) -> torch.Tensor:
        """The neighbourhood loss of precomputed :meth:`logits` (reused by Super-AND)."""
        neighbours, anchor = memory.neighbourhood(indices)
        return neighbourhood_loss(logits, indices, neighbours, anchor)

    def loss(self, features: torch.Tensor, memory: NeighbourhoodMemory,
             indices: torch.Tensor) -> torch.Tensor:
        """Loss of ``B x D`` embeddings whose own bank rows are ``indices``; ``memory``
        must be flushed (the algorithm does it before the forward)."""
        return self.loss_from_logits(self.logits(features, memory.bank), memory, indices)
