"""The instance family's contract: what an algorithm hands its head, and the head's base.

Every instance-family algorithm (ISIF, NPID, AND, Super-AND, CLD's instance branch)
embeds its views, reads its memory and calls ``head.loss(batch)`` with an
:class:`InstanceBatch` of tensors; the head returns its named loss terms. A head written
for one of these methods therefore runs in all of them by changing ``model.head`` (or
CLD's ``model.instance_head``) in the config, as long as the method provides what the
head reads (enough views, a bank, neighbourhoods): :meth:`InstanceBatch.require` names
what is missing and how to add it.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional

import torch
from mmengine.model import BaseModule

#: what to add to the model config when a head reads a field the method does not provide
PROVIDERS = dict(
    indices="data samples with `sample_idx` (selfemb datasets keep it)",
    bank="a memory bank: memory=dict(type='SimpleMemory', feat_dim=...)",
    neighbours="anchor neighbourhoods: memory=dict(type='NeighbourhoodMemory', ...) and "
               "method_hooks.discovery=dict(type='NeighbourhoodDiscoveryHook', ...)",
    anchor="anchor neighbourhoods: memory=dict(type='NeighbourhoodMemory', ...)",
)


@dataclass
class InstanceBatch:
    """The tensors an instance-family head receives.

    Attributes:
        views: ``V`` tensors ``B x D``, the L2-normalised embeddings of ``V`` views of the
            same ``B`` images (row ``i`` of each is image ``i``); gradient flows here.
        indices: ``B`` dataset indices of the images (their bank rows), or ``None``.
        bank: ``N x D`` memory bank with every queued update written (no gradient), or
            ``None`` when the method has no bank.
        neighbours: ``B x k`` neighbour rows of the images (``-1`` = none), AND rounds.
        anchor: ``B`` bool, the images whose neighbourhood the loss uses this round.
        round_epoch: Epoch within the current AND round, the message hub's (``None`` when
            unknown); a Python number, so a step captured as a CUDA graph must not read
            it (``SuperANDHead`` reads its device state then).
    """

    views: List[torch.Tensor]
    indices: Optional[torch.Tensor] = None
    bank: Optional[torch.Tensor] = None
    neighbours: Optional[torch.Tensor] = None
    anchor: Optional[torch.Tensor] = None
    round_epoch: Optional[int] = None

    def require(self, name: str, head: object) -> torch.Tensor:
        """The field ``name``, or a ``ValueError`` naming the head and what provides it."""
        value = getattr(self, name)
        if value is None:
            raise ValueError(f'{type(head).__name__} reads `{name}`, which this method does not '
                             f'provide; add {PROVIDERS.get(name, name)} to the model config')
        return value


class InstanceHead(BaseModule):
    """Base of instance-family heads: ``loss(batch) -> {term name: scalar tensor}``.

    Terms whose name starts with ``loss`` are summed by mmengine into the training loss;
    others (e.g. a schedule weight) are logged only. ``num_views`` is the number of views
    the head reads; the algorithm checks at build time that it provides as many.
    ``reads_indices = False`` tells a method without a bank that it need not look up the
    samples' indices every step (ISIF's in-batch loss).
    """

    num_views: int = 1
    reads_indices: bool = True

    def loss(self, batch: InstanceBatch) -> Dict[str, torch.Tensor]:
        raise NotImplementedError


def mean_over_views(batch: InstanceBatch, view_loss) -> torch.Tensor:
    """``(1/V) Σ_v view_loss(view_v)``: a per-view loss averaged over the batch's views."""
    losses = [view_loss(view) for view in batch.views]
    return sum(losses) / len(losses)
