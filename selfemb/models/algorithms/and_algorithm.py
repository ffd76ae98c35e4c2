"""AND: Unsupervised Deep Learning by Neighbourhood Discovery.

Huang, Dong, Gong, Zhu, ICML 2019. NPID's non-parametric classifier
``p_i = softmax(v_i · Mᵀ / τ)`` over a memory bank of all N images, trained in rounds:
round 0 is plain instance discrimination; before each later round r,
``NeighbourhoodDiscoveryHook`` picks the lowest-entropy fraction ``min(r · 0.25, 1)`` of
the samples as anchors with their nearest neighbour, and an anchor is then classified
into its whole neighbourhood (Super-AND eq. 10)::

    L = mean_i  -log(p_ii + Σ_{j∈N(i)} p_ij)   (anchors)   |   -log p_ii   (others)

The bank is updated after the step like NPID's (``m_i <- normalise(μ m_i + (1-μ) v_i)``,
μ = 0.5 weights the old entry).
"""
from typing import Dict, List, Optional

import torch

from selfemb.registry import MODELS

from ..memories import NeighbourhoodMemory
from ..utils import sample_indices
from .base import EmbeddingAlgorithm


@MODELS.register_module(name='AND')
class AND(EmbeddingAlgorithm):
    """Anchor neighbourhood discovery (``head``: ANDHead, ``memory``: NeighbourhoodMemory).

    Subclasses (Super-AND) extend :meth:`batch_losses`, which gets the batch's views,
    embedding and bank indices and can reuse :meth:`memory_logits`; :meth:`loss` keeps
    the bank protocol (flush before the forward, queue the update after).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.memory, NeighbourhoodMemory):
            raise TypeError(f'{type(self).__name__} needs memory=dict(type='
                            f"'NeighbourhoodMemory'), got {type(self.memory).__name__}")

    def memory_logits(self, z: torch.Tensor) -> torch.Tensor:
        """``B x N`` fp32 logits ``z · Mᵀ / τ`` against the (flushed) bank."""
        return self.head.logits(z, self.memory.bank)

    def batch_losses(self, inputs: List[torch.Tensor], z: torch.Tensor,
                     indices: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The loss terms of a batch; AND has one, the neighbourhood loss."""
        logits = self.memory_logits(z)
        return dict(loss=self.head.loss_from_logits(logits, self.memory, indices))

    def loss(self, inputs: List[torch.Tensor],
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        indices = sample_indices(data_samples, inputs[0].device)
        self.memory.flush()  # the previous step's update, now that its backward is done
        z = self.embed(inputs[0])
        losses = self.batch_losses(inputs, z, indices)
        self.memory.update(indices, z.detach())
        return losses
