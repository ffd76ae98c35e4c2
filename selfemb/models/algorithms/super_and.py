"""Super-AND: A Holistic Approach to Unsupervised Embedding Learning.

Han et al., 2020 (code: github.com/super-AND/super-AND). AND's rounds and memory-bank
classifier ``p_i = softmax(v_i · Mᵀ / τ)``, with two augmented views of every image
embedded in one forward (``[x_1..x_B, x̂_1..x̂_B]``, as the official code) by a two-trunk
RGB + Sobel backbone (``SobelResNet``), and the total loss of eq. 6::

    L = L_and + λ_aug · L_aug + w(t) · L_ue

* ``L_and`` (eq. 10): AND's neighbourhood loss on the memory logits of both views, the
  mean over the ``2B`` rows (:func:`~selfemb.models.losses.neighbourhood_loss`);
* ``L_aug`` (eq. 13–14): ISIF's loss on the relationship vectors
  ``r = normalise(v · Mᵀ / τ)`` of the two views
  (:func:`~selfemb.models.losses.augmentation_loss`);
* ``L_ue`` (eq. 11–12): the entropy of the softmax over the memory logits with the own
  entry masked, *minimised* (:func:`~selfemb.models.losses.uniform_entropy_loss`), with
  ``w(t) = 0.2 · (t // 80)``, ``t`` the epoch within the AND round
  (:func:`~selfemb.models.losses.ue_weight`).

The bank is updated after the step with view 1's embedding (``m_i <- normalise(μ m_i +
(1-μ) v_i)``): the official code writes both views' updates, each blended with the old
entry, to the same row with one ``index_copy_``, so one of them survives arbitrarily;
here it is always view 1.
"""
import logging
from typing import Dict, List, Optional

import torch
from mmengine.logging import MessageHub, print_log

from selfemb.registry import MODELS

from ..losses import augmentation_loss, ue_weight, uniform_entropy_loss
from ..utils import sample_indices
from .and_algorithm import AND

EPOCH_IN_ROUND_KEY = 'and_epoch_in_round'  # recorded by NeighbourhoodDiscoveryHook


@MODELS.register_module()
class SuperAND(AND):
    """Super-AND (``backbone``: SobelResNet, ``head``: ANDHead, ``memory``:
    NeighbourhoodMemory, ``custom_hooks``: NeighbourhoodDiscoveryHook; 2 views).

    Args:
        aug_temperature: τ of the augmentation loss's in-batch softmax (0.1).
        aug_weight: λ_aug (1 in the paper; 0 drops the term, the "w/o Aug" ablation).
        ue_step, ue_factor: ``w(t) = ue_factor · (t // ue_step)`` (80, 0.2; scale
            ``ue_step`` with a shortened round; ``ue_factor=0`` is "w/o UE").
        ue_self_logit: Logit written over each row's own entry in the UE loss: -10 (the
            official value), ``float('-inf')`` (exact eq. 11) or ``None`` (unmasked).

    ``t`` is read from the message hub (``and_epoch_in_round``, recorded by
    ``NeighbourhoodDiscoveryHook`` before every epoch). Without it (the model used
    outside a runner with that hook) ``t = 0`` is assumed, i.e. ``w = 0``, with a
    warning. Logged besides the loss terms (``loss_ue`` is the weighted term, 0 and not
    computed while ``w = 0``, as in the official code): ``ue_weight``.
    """

    def __init__(self, *args, aug_temperature: float = 0.1, aug_weight: float = 1.0,
                 ue_step: int = 80, ue_factor: float = 0.2,
                 ue_self_logit: Optional[float] = -10.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if aug_temperature <= 0 or aug_weight < 0 or ue_step < 1 or ue_factor < 0:
            raise ValueError('SuperAND needs aug_temperature > 0, aug_weight >= 0, '
                             f'ue_step >= 1 and ue_factor >= 0, got aug_temperature='
                             f'{aug_temperature}, aug_weight={aug_weight}, ue_step={ue_step}, '
                             f'ue_factor={ue_factor}')
        self.aug_temperature, self.aug_weight = aug_temperature, aug_weight
        self.ue_step, self.ue_factor, self.ue_self_logit = ue_step, ue_factor, ue_self_logit
        self._warned_no_epoch = False

    def epoch_in_round(self) -> int:
        """The epoch within the current AND round, from the message hub (0 if absent)."""
        value = MessageHub.get_current_instance().get_info(EPOCH_IN_ROUND_KEY)
        if value is None:
            if not self._warned_no_epoch:
                print_log(f'SuperAND: no {EPOCH_IN_ROUND_KEY!r} in the message hub (is '
                          'NeighbourhoodDiscoveryHook in custom_hooks?); the UE loss weight '
                          'is taken at epoch 0 of the round, i.e. 0', logger='current',
                          level=logging.WARNING)
                self._warned_no_epoch = True
            return 0
        return int(value)

    def batch_losses(self, inputs: List[torch.Tensor], z: torch.Tensor,
                     indices: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Loss terms of the ``2B x D`` embeddings of both views of the ``B`` images."""
        batch = indices.numel()
        logits = self.memory_logits(z)  # 2B x N, fp32
        both = indices.repeat(2)
        losses = dict(loss_and=self.head.loss_from_logits(logits, self.memory, both))
        if self.aug_weight > 0:
            losses['loss_aug'] = self.aug_weight * augmentation_loss(
                logits[:batch], logits[batch:], self.aug_temperature)
        weight = ue_weight(self.epoch_in_round(), self.ue_step, self.ue_factor)
        losses['loss_ue'] = (weight * uniform_entropy_loss(logits, both, self.ue_self_logit)
                             if weight > 0 else logits.new_zeros(()))  # official: skipped
        losses['ue_weight'] = logits.new_tensor(weight)
        return losses

    def loss(self, inputs: List[torch.Tensor],
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        if len(inputs) < 2:
            raise ValueError(f'SuperAND needs two views per image, got {len(inputs)}: set '
                             'the pipeline / data preprocessor to num_views=2')
        indices = sample_indices(data_samples, inputs[0].device)
        batch = inputs[0].size(0)
        if indices.numel() != batch or inputs[1].size(0) != batch:
            raise ValueError(f'SuperAND: views of {batch} and {inputs[1].size(0)} images for '
                             f'{indices.numel()} data samples')
        self.memory.flush()  # the previous step's update, now that its backward is done
        z = self.embed(torch.cat(inputs[:2]))
        losses = self.batch_losses(inputs, z, indices)
        self.memory.update(indices, z[:batch].detach())
        return losses
