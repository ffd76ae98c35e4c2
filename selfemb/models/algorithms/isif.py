"""ISIF: Unsupervised Embedding Learning via Invariant and Spreading Instance Feature.

Ye, Zhang, Yuen, Chang, CVPR 2019. Two augmented views of every image in the batch are
embedded together (one forward of ``2B`` images, as the official code does) and the
``2B`` L2-normalised features are trained with the in-batch instance loss of eq. 7
(see :func:`selfemb.models.losses.instance_spread_loss`). No memory bank.
"""
from typing import Dict, List, Optional

import torch

from selfemb.registry import MODELS

from .base import EmbeddingAlgorithm


@MODELS.register_module()
class ISIF(EmbeddingAlgorithm):
    """Invariant and spreading instance feature learning (``head``: InstanceSpreadHead)."""

    def loss(self, inputs: List[torch.Tensor],
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        if len(inputs) < 2:
            raise ValueError(f'ISIF needs two views per image, got {len(inputs)}: set the '
                             'pipeline / data preprocessor to num_views=2')
        batch = inputs[0].size(0)
        z = self.embed(torch.cat(inputs[:2]))
        return dict(loss=self.head.loss(z[:batch], z[batch:]))
