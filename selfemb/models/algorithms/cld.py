"""CLD: Unsupervised Feature Learning by Cross-Level Discrimination between Instances
and Groups (Wang, Liu, Yu, CVPR 2021), with NPID's memory bank as the instance branch.

A shared backbone feeds two branches (``TwoBranchNeck``): the instance branch ``f_I``
trained by NPID's non-parametric classifier over the memory bank, and the group branch
``f_G`` trained by cross-level discrimination (``CLDHead``). Eq. 3, with batch means::

    L = ½ [C(f_I(x), v) + C(f_I(x'), v)]
        + λ ½ [CE(f_G(x') Mᵀ / T_G, Γ) + CE(f_G(x) M'ᵀ / T_G, Γ')]

where ``(M, Γ)`` / ``(M', Γ')`` come from spherical k-means of view 1 / view 2's group
features. The bank row of an image is updated with the normalised mean of its two views'
instance features (the paper's "average feature of the augmented set").
"""
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from selfemb.registry import MODELS

from ..utils import sample_indices
from .base import EmbeddingAlgorithm


def two_views(inputs: List[torch.Tensor], name: str) -> None:
    if len(inputs) < 2:
        raise ValueError(f'{name} needs two views per image, got {len(inputs)}: set the '
                         'pipeline / data preprocessor to num_views=2')


@MODELS.register_module()
class CLD(EmbeddingAlgorithm):
    """NPID + CLD (``neck``: TwoBranchNeck, ``head``: NPIDHead, ``cld_head``: CLDHead,
    ``memory``: SimpleMemory).

    Args:
        cld_head: Config of the group-branch head.
        cld_weight: λ, the weight of the cross-level loss (1.0 on CIFAR, 0.25 on
            ImageNet-100 in the paper).
        Others: as :class:`EmbeddingAlgorithm`.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict, cld_head: dict, memory: dict,
                 cld_weight: float = 1.0,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head, memory=memory,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.cld_head = MODELS.build(cld_head)
        self.cld_weight = cld_weight

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """The instance-branch embedding ``f_I(x)`` (what kNN evaluates)."""
        return self.neck(self.extract_feat(inputs))[0]

    def loss(self, inputs: List[torch.Tensor],
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        two_views(inputs, 'CLD')
        indices = sample_indices(data_samples, inputs[0].device)
        self.memory.flush()  # the previous step's update, now that its backward is done
        b = inputs[0].size(0)
        instance, group = self.neck(self.extract_feat(torch.cat(inputs[:2])))
        bank = self.memory.bank
        loss_instance = 0.5 * (self.head.loss(instance[:b], bank, indices) +
                               self.head.loss(instance[b:], bank, indices))
        loss_cld = self.cld_head.loss(group[:b], group[b:])
        mean_view = F.normalize(instance[:b].detach() + instance[b:].detach(), dim=1)
        self.memory.update(indices, mean_view)
        return dict(loss_instance=loss_instance, loss_cld=self.cld_weight * loss_cld)
