"""NPID: Unsupervised Feature Learning via Non-Parametric Instance Discrimination.

Wu, Xiong, Yu, Lin, CVPR 2018. Each image is its own class; the class "weights" are a
memory bank of the images' past embeddings (``SimpleMemory``), so the classifier is
``softmax(v · Mᵀ / τ)`` over all N training images (or its NCE approximation). The
bank is updated with the batch's embeddings after the loss.
"""
from typing import Dict, List, Optional

import torch

from selfemb.registry import MODELS

from ..utils import sample_indices
from .base import EmbeddingAlgorithm


@MODELS.register_module()
class NPID(EmbeddingAlgorithm):
    """Memory-bank instance discrimination (``head``: NPIDHead, ``memory``: SimpleMemory)."""

    def loss(self, inputs: List[torch.Tensor],
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        indices = sample_indices(data_samples, inputs[0].device)
        self.memory.flush()  # the previous step's update, now that its backward is done
        z = self.embed(inputs[0])
        loss = self.head.loss(z, self.memory.bank, indices)
        self.memory.update(indices, z.detach())
        return dict(loss=loss)
