"""CLD: Unsupervised Feature Learning by Cross-Level Discrimination between Instances
and Groups (Wang, Liu, Yu, CVPR 2021), with NPID's memory bank as the instance branch.

A shared backbone feeds two branches (``TwoBranchNeck``): the instance branch ``f_I``
trained by NPID's non-parametric classifier over the memory bank (``instance_head``, an
instance-family head given both views), and the group branch ``f_G`` trained by
cross-level discrimination (``group_head``, ``CLDHead``). Eq. 3, with batch means::

    L = ½ [C(f_I(x), v) + C(f_I(x'), v)]
        + λ ½ [CE(f_G(x') Mᵀ / T_G, Γ) + CE(f_G(x) M'ᵀ / T_G, Γ')]

where ``(M, Γ)`` / ``(M', Γ')`` come from spherical k-means of view 1 / view 2's group
features. The bank row of an image is updated with the normalised mean of its two views'
instance features (the paper's "average feature of the augmented set").

``bank_update='release'`` reproduces the official NPID+CLD CIFAR code instead, whose bank
is written inside the backward pass, view 2's term first: the row is blended with view 2's
feature, view 1's gradient is then taken against that bank (with the softmax of the
forward, computed on the old bank), and the row is blended again with view 1's feature.

Each view goes through the backbone on its own (``per_view_forward``, as the official
code), so BatchNorm normalises each view with its own batch statistics.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from selfemb.registry import MODELS

from ..heads import InstanceHead, NPIDHead
from ..utils import sample_indices
from .base import EmbeddingAlgorithm

#: keys of checkpoints written before the heads were named by branch
RENAMED_HEADS = {'head.': 'instance_head.', 'cld_head.': 'group_head.'}


def forward_views(model: EmbeddingAlgorithm, views: Sequence[torch.Tensor],
                  per_view: bool = True) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    """``[(f_I(v), f_G(v)) for v in views]`` of the online backbone + TwoBranchNeck.

    ``per_view``: one forward per view, so BatchNorm uses (and its running statistics
    track) each view's own batch, as the official code; otherwise one forward of the
    concatenated views (one BN batch of ``V x B`` samples).
    """
    if per_view:
        return [tuple(model.neck(model.extract_feat(v))) for v in views]
    instance, group = model.neck(model.extract_feat(torch.cat(list(views))))
    b = views[0].size(0)
    return list(zip(instance.split(b), group.split(b)))


@MODELS.register_module()
class CLD(EmbeddingAlgorithm):
    """NPID + CLD (``neck``: TwoBranchNeck, ``instance_head``: NPIDHead, ``group_head``:
    CLDHead, ``memory``: SimpleMemory).

    Args:
        instance_head: Config of the instance-branch head (an instance-family head; it
            gets both views' ``f_I`` and averages its loss over them).
        group_head: Config of the group-branch head (``loss(group1, group2)``).
        cld_weight: λ, the weight of the cross-level loss (1.0 on CIFAR, 0.25 on
            ImageNet-100 in the paper).
        per_view_forward: One backbone forward per view (per-view BatchNorm batches, the
            official code) instead of one forward of both views concatenated.
        bank_update: ``'mean'`` (default): one update per step with the normalised mean
            of the two views. ``'release'``: the official code's order (module doc):
            ``m <- normalise(mu m + (1 - mu) v2)`` written before view 1's term, whose
            gradient ``(softmax(v1 M_oldᵀ/τ) - onehot) M_new / τ`` uses the rewritten
            rows (its value still the old bank's), then
            ``m <- normalise(mu m + (1 - mu) v1)``. Needs an ``NPIDHead`` with
            ``loss_type='softmax'`` (the official CIFAR scripts' ``--nce-k 0``).
        Others: as :class:`EmbeddingAlgorithm`.
    """

    renamed_keys = RENAMED_HEADS
    graph_blocker = None

    def __init__(self, backbone: dict, neck: dict, instance_head: dict, group_head: dict,
                 memory: dict, cld_weight: float = 1.0, per_view_forward: bool = True,
                 bank_update: str = 'mean',
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, memory=memory,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.instance_head = MODELS.build(instance_head)
        self.group_head = MODELS.build(group_head)
        if not isinstance(self.instance_head, InstanceHead) or self.instance_head.num_views > 2:
            raise TypeError(f'CLD instance_head must be an instance-family head reading at '
                            f'most 2 views, got {type(self.instance_head).__name__}')
        if bank_update not in ('mean', 'release'):
            raise ValueError(f"CLD bank_update must be 'mean' or 'release', got {bank_update!r}")
        if bank_update == 'release' and not (isinstance(self.instance_head, NPIDHead)
                                             and self.instance_head.loss_type == 'softmax'):
            raise TypeError("CLD bank_update='release' needs NPIDHead(loss_type='softmax')")
        self.cld_weight = cld_weight
        self.per_view_forward = per_view_forward
        self.bank_update = bank_update

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """The instance-branch embedding ``f_I(x)`` (what kNN evaluates)."""
        return self.neck(self.extract_feat(inputs))[0]

    def loss(self, inputs: List[torch.Tensor],
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        views = self.views(inputs, 2)
        indices = sample_indices(data_samples, views[0].device)
        batch = self.instance_batch(views, indices)  # flushes the previous step's update
        (inst1, group1), (inst2, group2) = forward_views(self, views, self.per_view_forward)
        if self.bank_update == 'release':
            losses = dict(loss_instance=self.release_instance_loss(batch, inst1, inst2))
        else:
            batch.views = [inst1, inst2]
            losses = {branch_term(k, 'instance'): v
                      for k, v in self.instance_head.loss(batch).items()}
        losses['loss_cld'] = self.cld_weight * self.group_head.loss(group1, group2)
        if self.bank_update == 'release':
            self.memory.update(indices, inst1.detach())  # written by the next flush
        else:
            mean_view = F.normalize(inst1.detach() + inst2.detach(), dim=1)
            self.memory.update(indices, mean_view)
        return losses

    def release_instance_loss(self, batch, inst1: torch.Tensor,
                              inst2: torch.Tensor) -> torch.Tensor:
        """``½ [C(f_I(x)) + C(f_I(x'))]`` with the official code's bank order: view 2
        against the old bank, then view 2's update written, then view 1's term whose
        value is that of the old bank and whose gradient uses the new one."""
        old = batch.bank.clone()  # the flush below writes the live bank in place
        loss2 = self.instance_head.bank_loss(inst2, old, batch.indices)
        self.memory.update(batch.indices, inst2.detach())
        new = self.memory.current_bank()  # next written after this step's backward
        return 0.5 * (release_softmax_loss(inst1, old, new, batch.indices,
                                           self.instance_head.temperature) + loss2)


def release_softmax_loss(features: torch.Tensor, bank_value: torch.Tensor,
                         bank_grad: torch.Tensor, indices: torch.Tensor,
                         temperature: float) -> torch.Tensor:
    """NPID's full-softmax loss whose value (and softmax) is that of ``bank_value`` and
    whose gradient in ``features`` is ``(softmax - onehot) bank_grad / (τ B)``: the
    official code's backward, which reads a bank rewritten since the forward."""
    x = features.float()
    bank_value, bank_grad = bank_value.detach().float(), bank_grad.detach().float()
    grad_path = x @ bank_grad.t() / temperature  # contributes its gradient, adds 0
    logits = x.detach() @ bank_value.t() / temperature + (grad_path - grad_path.detach())
    return F.cross_entropy(logits, indices)


def branch_term(name: str, branch: str) -> str:
    """A head's term named for its branch: ``loss`` -> ``loss_instance``,
    ``loss_and`` -> ``loss_instance_and``, a logged value ``w`` -> ``instance_w``."""
    if name == 'loss' or name.startswith('loss_'):
        return f'loss_{branch}{name[4:]}'
    return f'{branch}_{name}'
