"""CLDm: CLD (Wang, Liu, Yu, CVPR 2021) with MoCo's momentum encoder and queue (He et al.,
CVPR 2020) as the instance branch instead of NPID's memory bank.

Per step, with ``num_views=3`` (the official ``--three-imgs`` CIFAR recipe) and views
``x``, ``x'``, ``x''``::

    L = ½ [InfoNCE(f_I(x), k(x''), queue; τ_I) + InfoNCE(f_I(x'), k(x''), queue; τ_I)]
        + λ ½ [CE(f_G(x') Mᵀ / T_G, Γ) + CE(f_G(x) M'ᵀ / T_G, Γ')]

where InfoNCE is ``instance_head`` (``MarginNCEHead`` with ``margin=0``), both queries
against the key of the third view and the same queue (the keys are enqueued once, after
both terms); the group term uses the online encoder's first two
views. With ``num_views=2`` (MoCo v1's asymmetric loss) the query is ``f_I(x)`` and the
key ``k(x')``: ``L = InfoNCE(f_I(x), k(x'), queue; τ_I) + λ L_CLD``.

``k`` is the instance branch of the momentum encoder, an exponential moving average of
backbone + neck (``θ_k <- m θ_k + (1 - m) θ_q``, MoCo's ``m`` weights the OLD key
encoder), updated before the keys are computed. The keys of every rank are all-gathered
and enqueued (:class:`~selfemb.models.memories.KeyQueue`, registered buffers like the
encoder's step count), so the queue is identical on all ranks and restored by
``--resume``. With
several processes the key batch is shuffled across ranks for the momentum encoder and
unshuffled after it (MoCo's shuffle BN, as the official ImageNet code); a single
process has none. The online
views go through the backbone one at a time (``per_view_forward``, as the official
code), each with its own BatchNorm batch.
"""
from typing import Dict, List, Optional, Union

import torch
from torch import nn

from selfemb.registry import MODELS

from ..memories import KeyQueue
from ..utils import MomentumEncoder, batch_shuffle, batch_unshuffle
from .base import EmbeddingAlgorithm
from .cld import RENAMED_HEADS, forward_views


@MODELS.register_module()
class CLDm(EmbeddingAlgorithm):
    """MoCo + CLD (``neck``: TwoBranchNeck, ``instance_head``: MarginNCEHead with margin 0,
    ``group_head``: CLDHead; no memory bank).

    Args:
        instance_head: Config of the instance-branch head, MarginNCE / InfoNCE family
            (``loss(query, positive, negatives)``; τ_I is its temperature).
        group_head: Config of the group-branch head.
        queue_len: K, negatives kept (at least the global batch).
        feat_dim: Instance embedding dimension.
        momentum: MoCo's m, the weight of the old key encoder (0.999).
        cld_weight: λ.
        num_views: 3: queries from views 1 and 2, keys from view 3, the two InfoNCE
            terms averaged (the official CIFAR recipe); 2: query view 1, key view 2.
        per_view_forward: One online forward per view (per-view BatchNorm batches, the
            official code) instead of one forward of the concatenated views.
    """

    renamed_keys = dict(RENAMED_HEADS, queue='queue.keys', queue_ptr='queue.ptr')
    graph_blocker = None

    def __init__(self, backbone: dict, neck: dict, instance_head: dict, group_head: dict,
                 queue_len: int = 4096, feat_dim: int = 128, momentum: float = 0.999,
                 cld_weight: float = 1.0, num_views: int = 2, per_view_forward: bool = True,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if not 0.0 < momentum < 1.0 or queue_len < 1:
            raise ValueError(f'CLDm needs 0 < momentum < 1 and queue_len >= 1, got '
                             f'momentum={momentum}, queue_len={queue_len}')
        if num_views not in (2, 3):
            raise ValueError(f'CLDm num_views must be 2 or 3, got {num_views}')
        self.num_views = num_views
        self.per_view_forward = per_view_forward
        self.instance_head = MODELS.build(instance_head)
        self.group_head = MODELS.build(group_head)
        self.cld_weight = cld_weight
        # mmengine's EMA momentum weights the NEW (online) parameters: 1 - m
        self.momentum_encoder = MomentumEncoder(
            nn.Sequential(self.backbone, self.neck), momentum=1.0 - momentum)
        # random unit keys, the same on every rank; at least one global batch long
        self.queue = KeyQueue(queue_len, feat_dim, allow_overflow=False)

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """The online encoder's instance embedding ``f_I(x)`` (what kNN evaluates)."""
        return self.neck(self.extract_feat(inputs))[0]

    def loss(self, inputs: List[torch.Tensor],
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        views = self.views(inputs, self.num_views)
        (q1, group1), (q2, group2) = forward_views(self, views[:2], self.per_view_forward)
        with torch.no_grad():
            self.momentum_encoder.update_parameters(nn.Sequential(self.backbone, self.neck))
            shuffled, perm = batch_shuffle(views[-1])  # shuffle BN
            keys = batch_unshuffle(self.momentum_encoder(shuffled)[0], perm)
        queue = self.queue.current()  # a copy: push() overwrites the queue after the loss
        loss_instance = self.instance_head.loss(q1, keys, queue)
        if self.num_views == 3:
            loss_instance = 0.5 * (loss_instance + self.instance_head.loss(q2, keys, queue))
        loss_cld = self.group_head.loss(group1, group2)
        self.queue.push(keys)
        return dict(loss_instance=loss_instance, loss_cld=self.cld_weight * loss_cld)
