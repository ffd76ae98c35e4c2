"""InterCLR: Delving into Inter-Image Invariance for Unsupervised Visual Representations.

Xie, Zhan, Liu, Ong, Loy. Two MarginNCE branches (eq. 5) on the L2-normalised embedding
v_i of view 1, total (eq. 6)::

    L = λ · L_intra + (1 - λ) · L_inter,   λ = 0.75

* intra-image (positives by index), ``intra_source``:
  ``'moco'`` (the official release): positive = the momentum encoder's key of view 2,
  negatives = the queue of past keys (``KeyQueue``, all-gathered);
  ``'memory'`` (NPID style): positive = the own bank row, negatives = ``intra_negatives``
  rows drawn uniformly from the bank;
* inter-image (positives by pseudo-label, :class:`ODCMemory` kept by online k-means):
  positive = a random bank entry with the anchor's label, ``num_negatives`` negatives
  with other labels by ``negative_strategy``
  (:func:`~selfemb.models.utils.label_sampling.sample_negatives`).

After the loss the batch's embeddings (all-gathered) update the bank (paper eq. 2), and
the next flush relabels those rows and, every ``interval`` iterations, the centroids.
``bank_source``: ``'key'`` (the official release, MoCo only) writes the momentum
encoder's keys of view 2, ``'query'`` the online embeddings v_i of view 1. With more than
one process the key encoder runs with shuffle BN (MoCo §3.3,
:func:`~selfemb.models.utils.batch_shuffle`); a single process has no shuffle BN. Logged
besides the two (weighted) loss terms: ``label_change``, the fraction of the rows
relabelled at the start of the step whose pseudo-label changed.
"""
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from selfemb.registry import MODELS

from ..memories import KeyQueue, ODCMemory
from ..utils import MomentumEncoder, batch_shuffle, batch_unshuffle, sample_indices
from ..utils.label_sampling import STRATEGIES, label_segments, sample_negatives, sample_positives
from .base import ODC_HOST_SCHEDULE, EmbeddingAlgorithm


@MODELS.register_module()
class InterCLR(EmbeddingAlgorithm):
    """InterCLR (``memory``: ODCMemory; ``intra_head`` / ``inter_head``: MarginNCEHead;
    ``method_hooks``: ODCInitHook for the initial global k-means).

    Args:
        intra_head, inter_head: MarginNCEHead configs (margins +0.35 / -0.5 ...).
        intra_weight: λ. intra_source: ``'moco'`` (2 views) or ``'memory'`` (1 view).
        num_negatives: K of the inter branch (16,384).
        intra_negatives: K of the intra branch: MoCo queue length or bank draws
            (default: ``num_negatives``).
        negative_strategy: ``'semihard'`` (default), ``'hard'``, ``'random'``, ``'semieasy'``.
        pool_fraction: Pool of semi-hard / semi-easy sampling (0.1 = top 10 %).
        key_momentum: MoCo momentum encoder, ``θ_k <- m θ_k + (1 - m) θ_q`` (0.999).
        bank_source: What updates the inter branch's bank: ``'key'`` (MoCo keys of view
            2, the official release) or ``'query'`` (v_i of view 1); default ``'key'``
            with ``intra_source='moco'``, ``'query'`` with ``'memory'``.
        block_size: Floats per anchors x bank similarity block of negative sampling.
    """

    graph_blocker = ODC_HOST_SCHEDULE

    def __init__(self, backbone: dict, neck: dict, memory: dict, intra_head: dict,
                 inter_head: dict, intra_weight: float = 0.75, intra_source: str = 'moco',
                 num_negatives: int = 16384, intra_negatives: Optional[int] = None,
                 negative_strategy: str = 'semihard', pool_fraction: float = 0.1,
                 key_momentum: float = 0.999, block_size: int = 1 << 25,
                 bank_source: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(backbone=backbone, neck=neck, memory=memory,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not isinstance(self.memory, ODCMemory):
            raise TypeError(f"InterCLR needs memory=dict(type='ODCMemory'), got "
                            f'{type(self.memory).__name__}')
        if intra_source not in ('moco', 'memory'):
            raise ValueError(f"InterCLR intra_source must be 'moco' or 'memory', got "
                             f'{intra_source!r}')
        if negative_strategy not in STRATEGIES:
            raise ValueError(f'InterCLR negative_strategy must be one of {STRATEGIES}, '
                             f'got {negative_strategy!r}')
        if not 0.0 <= intra_weight <= 1.0 or num_negatives < 1 or not 0 < key_momentum < 1:
            raise ValueError(f'InterCLR needs 0 <= intra_weight <= 1, num_negatives >= 1 and '
                             f'0 < key_momentum < 1, got {intra_weight}, {num_negatives}, '
                             f'{key_momentum}')
        bank_source = bank_source or ('key' if intra_source == 'moco' else 'query')
        if bank_source not in ('key', 'query') or (bank_source == 'key'
                                                   and intra_source != 'moco'):
            raise ValueError(f"InterCLR bank_source must be 'key' (with intra_source="
                             f"'moco') or 'query', got {bank_source!r} with intra_source="
                             f'{intra_source!r}')
        self.bank_source = bank_source
        self.intra_head, self.inter_head = MODELS.build(intra_head), MODELS.build(inter_head)
        self.intra_weight, self.intra_source = intra_weight, intra_source
        self.num_negatives = num_negatives
        self.intra_negatives = intra_negatives or num_negatives
        self.negative_strategy, self.pool_fraction = negative_strategy, pool_fraction
        self.block_size = block_size
        if intra_source == 'moco':
            self.key_encoder = MomentumEncoder(nn.Sequential(self.backbone, self.neck),
                                                        momentum=1 - key_momentum)
            self.queue = KeyQueue(self.intra_negatives, self.memory.feat_dim)

    def check_num_samples(self, num_samples: int) -> None:
        """Fail before training when K does not fit the training set of ``num_samples``."""
        if self.num_negatives >= num_samples:
            raise ValueError(f'InterCLR num_negatives={self.num_negatives} must be smaller '
                             f'than the {num_samples} training samples; lower num_negatives')
        if self.intra_source == 'memory' and self.intra_negatives > num_samples:
            raise ValueError(f'InterCLR intra_negatives={self.intra_negatives} exceeds the '
                             f'{num_samples} training samples; lower intra_negatives')

    def intra_loss(self, views: List[torch.Tensor], q: torch.Tensor, bank: torch.Tensor,
                   indices: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The intra-image loss and the MoCo keys (``None`` with the memory source)."""
        if self.intra_source == 'memory':
            noise = torch.randint(0, bank.size(0), (q.size(0), self.intra_negatives),
                                  device=q.device)
            return self.intra_head.loss(q, bank[indices], bank[noise]), None
        with torch.no_grad():
            self.key_encoder.update_parameters(nn.Sequential(self.backbone, self.neck))
            shuffled, perm = batch_shuffle(views[1])  # shuffle BN across ranks
            k = batch_unshuffle(self.key_encoder(shuffled), perm)
        loss = self.intra_head.loss(q, k, self.queue.current())
        self.queue.push(k)
        return loss, k

    def inter_loss(self, q: torch.Tensor, bank: torch.Tensor,
                   indices: torch.Tensor) -> torch.Tensor:
        labels = self.memory.labels
        with torch.no_grad():
            segments = label_segments(labels, self.memory.num_clusters)
            positives = sample_positives(labels, indices, segments)
            # the no-negative check reads the device unless the memory knows every
            # cluster has a member
            negatives = sample_negatives(q, bank, labels, labels[indices], self.num_negatives,
                                         self.negative_strategy, self.pool_fraction,
                                         self.block_size, segments,
                                         check=not self.memory.known_nonempty())
        return self.inter_head.loss(q, bank[positives], bank[negatives])

    def loss(self, inputs: List[torch.Tensor],
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        indices = sample_indices(data_samples, inputs[0].device)
        bank = self.memory.current_bank()  # relabel / re-average with the previous batch
        if not self.memory.is_initialized:
            raise RuntimeError('InterCLR: the ODCMemory has no initial clustering; add '
                               "method_hooks = dict(odc_init=dict(type='ODCInitHook'))")
        views = self.views(inputs, 2 if self.intra_source == 'moco' else 1)
        q = self.embed(views[0])
        loss_intra, k = self.intra_loss(views, q, bank, indices)
        losses = dict(loss_intra=self.intra_weight * loss_intra,
                      loss_inter=(1 - self.intra_weight) * self.inter_loss(q, bank, indices))
        self.memory.update(indices, k if self.bank_source == 'key' else q.detach())
        losses['label_change'] = self.memory.label_change.to(q.device)  # logged only
        return losses
