"""Head of Super-AND: its three loss terms on the memory logits of two views."""
import logging
from typing import Dict, Optional

import torch
from mmengine.logging import print_log

from selfemb.registry import MODELS

from ..losses import augmentation_loss, neighbourhood_loss, ue_weight, uniform_entropy_loss
from .and_head import ANDHead
from .base import InstanceBatch


@MODELS.register_module()
class SuperANDHead(ANDHead):
    """Super-AND's total loss (Han et al., 2020, eq. 6)::

        L = L_and + λ_aug · L_aug + w(t) · L_ue

    on the memory logits ``s = v · Mᵀ / τ`` of both views stacked (``2B x N``):

    * ``loss_and`` (eq. 10): AND's neighbourhood loss, the mean over the ``2B`` rows
      (:func:`~selfemb.models.losses.neighbourhood_loss`);
    * ``loss_aug`` (eq. 13–14): ISIF's loss on the relationship vectors
      ``r = normalise(s)`` of the two views
      (:func:`~selfemb.models.losses.augmentation_loss`), weighted by λ_aug;
    * ``loss_ue`` (eq. 11–12): the entropy of the softmax over the logits with the own
      entry masked, *minimised* (:func:`~selfemb.models.losses.uniform_entropy_loss`),
      weighted by ``w(t) = ue_factor · (t // ue_step)``, ``t`` the epoch within the AND
      round (:func:`~selfemb.models.losses.ue_weight`); 0 and not computed while
      ``w = 0``, as in the official code. ``ue_weight`` is logged too.

    ``w(t)`` is device state, so a replayed CUDA graph of the step follows it: the
    non-persistent buffer ``ue_weight`` (float32, 0-dim), written by
    :meth:`set_round_epoch` outside the step (``NeighbourhoodDiscoveryHook``, before every
    epoch, also after ``--resume``), and the Python flag ``ue_active`` (``w > 0``: whether
    the term is computed), which a graph bakes in: its switch re-captures, twice a round,
    while a new ``w > 0`` is replayed as it is. An eager step also takes ``t`` from
    ``batch.round_epoch`` (the message hub's) when given, so a model driven without the
    hook follows the hub; a step being captured reads only the buffer.

    Reads ``views[0:2]``, ``bank``, ``indices``, ``neighbours``, ``anchor`` and
    ``round_epoch``. Without a ``round_epoch`` ever given (the model used outside a
    runner with ``NeighbourhoodDiscoveryHook``) ``t = 0`` is taken, i.e. ``w = 0``, with
    a warning.

    Args:
        temperature: τ of the memory logits (0.1).
        aug_temperature: τ of the augmentation loss's in-batch softmax (0.1).
        aug_weight: λ_aug (1 in the paper; 0 drops the term, the "w/o Aug" ablation).
        ue_step, ue_factor: ``w(t) = ue_factor · (t // ue_step)`` (80, 0.2; scale
            ``ue_step`` with a shortened round; ``ue_factor=0`` is "w/o UE").
        ue_self_logit: Logit written over each row's own entry in the UE loss: -10 (the
            official value), ``float('-inf')`` (exact eq. 11) or ``None`` (unmasked).
    """

    num_views = 2

    def __init__(self, temperature: float = 0.1, aug_temperature: float = 0.1,
                 aug_weight: float = 1.0, ue_step: int = 80, ue_factor: float = 0.2,
                 ue_self_logit: Optional[float] = -10.0, init_cfg=None) -> None:
        super().__init__(temperature=temperature, init_cfg=init_cfg)
        if aug_temperature <= 0 or aug_weight < 0 or ue_step < 1 or ue_factor < 0:
            raise ValueError('SuperANDHead needs aug_temperature > 0, aug_weight >= 0, '
                             f'ue_step >= 1 and ue_factor >= 0, got aug_temperature='
                             f'{aug_temperature}, aug_weight={aug_weight}, ue_step={ue_step}, '
                             f'ue_factor={ue_factor}')
        self.aug_temperature, self.aug_weight = aug_temperature, aug_weight
        self.ue_step, self.ue_factor, self.ue_self_logit = ue_step, ue_factor, ue_self_logit
        self.register_buffer('ue_weight', torch.zeros(()), persistent=False)  # w(0) = 0
        self.ue_active = False
        self._epoch_given = self._warned_no_epoch = False

    def set_round_epoch(self, epoch_in_round: int) -> None:
        """Write ``w(epoch_in_round)`` into the ``ue_weight`` buffer (a fill kernel, no
        host-to-device copy) and ``ue_active``; call it outside a captured step."""
        weight = ue_weight(epoch_in_round, self.ue_step, self.ue_factor)
        self.ue_weight.fill_(weight)
        self.ue_active = weight > 0
        self._epoch_given = True

    def _follow_round_epoch(self, batch: InstanceBatch) -> None:
        """An eager step takes the batch's epoch into the device state; a captured one
        must not: the fill would be replayed with the captured epoch's weight."""
        if self.ue_weight.is_cuda and torch.cuda.is_current_stream_capturing():
            return
        if batch.round_epoch is not None:
            self.set_round_epoch(batch.round_epoch)
        elif not (self._epoch_given or self._warned_no_epoch):
            print_log('SuperANDHead: no epoch within the AND round (is '
                      'NeighbourhoodDiscoveryHook in method_hooks?); the UE loss weight '
                      'is taken at epoch 0 of the round, i.e. 0', logger='current',
                      level=logging.WARNING)
            self._warned_no_epoch = True

    def loss(self, batch: InstanceBatch) -> Dict[str, torch.Tensor]:
        bank, indices, neighbours, anchor = self.neighbourhood(batch)
        size = indices.numel()
        logits = self.logits(torch.cat(batch.views[:2]), bank)  # 2B x N, fp32
        both = indices.repeat(2)
        losses = dict(loss_and=neighbourhood_loss(logits, both, neighbours.repeat(2, 1),
                                                  anchor.repeat(2)))
        if self.aug_weight > 0:
            losses['loss_aug'] = self.aug_weight * augmentation_loss(
                logits[:size], logits[size:], self.aug_temperature)
        self._follow_round_epoch(batch)
        # indices are the bank's own rows (sized from the dataset): no host-side check;
        # float32 w times the float32 loss: what a Python float w gave, bit for bit
        losses['loss_ue'] = (self.ue_weight * uniform_entropy_loss(
            logits, both, self.ue_self_logit, check=False)
            if self.ue_active else logits.new_zeros(()))  # official: skipped while w = 0
        losses['ue_weight'] = self.ue_weight.clone()
        return losses
