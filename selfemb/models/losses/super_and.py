"""Super-AND's extra losses on the memory logits ``s = v · Mᵀ / τ`` (eq. 11–14 of
Han et al., "Super-AND: A Holistic Approach to Unsupervised Embedding Learning", 2020).

The AND neighbourhood loss (eq. 10) lives in :mod:`.neighbourhood`; Super-AND adds the
augmentation loss (ISIF's loss on relationship vectors), the unification-entropy (UE)
loss and its step weight ``w(t)``: ``L = L_and + L_aug + w(t) · L_ue`` (eq. 6).
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F

from .instance_spread import instance_spread_loss


def augmentation_loss(logits_view1: torch.Tensor, logits_view2: torch.Tensor,
                      temperature: float = 0.1, detach_key: bool = True) -> torch.Tensor:
    """Augmentation loss (eq. 13–14): ISIF's loss on the relationship vectors of 2 views.

    The relationship vector of an image is its row of memory logits L2-normalised,
    ``r_i = s_i / ||s_i||`` (eq. 2; ``N``-dimensional, one entry per memory slot), and
    :func:`instance_spread_loss` is applied to ``[r_1..r_B, r̂_1..r̂_B]``::

        L_aug = -1/2B Σ_i [ log P_{i,p(i)} + Σ_{k∉{i,p(i)}} log(1 - P_ik) ],
        P_ik = exp(r_i·r_k/τ) / Σ_{l≠i} exp(r_i·r_l/τ)

    exactly what the official ``Criterion`` computes on its ``2B x N`` logits (key side
    detached, mean over the ``2B`` rows).

    Args:
        logits_view1, logits_view2: ``B x N`` memory logits of the two views of the
            same ``B`` images (row ``i`` of both is image ``i``).
        temperature: τ of the in-batch softmax (``batch_t`` = 0.1 in the official code).
        detach_key: Gradient through the anchor side only (official convention).

    Returns:
        Scalar loss (minimised).
    """
    if logits_view1.dim() != 2 or logits_view1.shape != logits_view2.shape:
        raise ValueError('augmentation_loss expects two B x N logit matrices of the same '
                         f'shape, got {tuple(logits_view1.shape)} and '
                         f'{tuple(logits_view2.shape)}')
    relations = F.normalize(torch.cat([logits_view1, logits_view2]), dim=1)
    return instance_spread_loss(relations, temperature, detach_key)


def uniform_entropy_loss(logits: torch.Tensor, indices: torch.Tensor,
                         self_logit: Optional[float] = -10.0, check: bool = True) -> torch.Tensor:
    """Unification-entropy loss (eq. 11–12): mean entropy of the softmax over the memory
    logits with each row's own memory entry masked out.

    With ``s̃_ij = s_ij`` for ``j ≠ i`` and ``s̃_ii = self_logit``,
    ``p̃_ij = softmax_j(s̃_i)``, the loss is ``(1/M) Σ_i H̃_i``, ``H̃_i = -Σ_j p̃_ij log p̃_ij``.

    **Sign**: this is the entropy itself and it is *minimised* (added with weight
    ``w(t) >= 0``): a low entropy over the *other* instances concentrates each sample's
    similarity on a few neighbours, the "attraction" the paper describes. This matches
    the official code (``UELoss`` returns ``+H``, the total loss adds ``w·H``); the
    leading minus of the paper's eq. 12 contradicts its own text and code.

    Args:
        logits: ``M x N`` memory logits ``v · Mᵀ / τ`` (both views stacked, in Super-AND).
        indices: ``M`` memory index of each row (its own entry).
        self_logit: Value written over each row's own logit. ``-10`` (default) is the
            official code's: its current ``main.py`` (since commit eab79e5) sets the own
            logit of both views to −10 and computes the loss once; that is cosine −1 at
            τ = 0.1 (not a strict exclusion). ``float('-inf')`` excludes the own entry
            exactly as in eq. 11; ``None`` keeps it (unmasked, as only the official
            first commit 05ce30f computed: there the masked value was overwritten by the
            unmasked one on the next line).
        check: Check that ``indices`` lie in ``[0, N)`` (a host synchronisation on a GPU;
            callers whose indices are valid by construction pass ``False``).

    Returns:
        Scalar loss (minimised).
    """
    if logits.dim() != 2 or indices.dim() != 1 or indices.numel() != logits.size(0):
        raise ValueError('uniform_entropy_loss expects M x N logits and M indices, got '
                         f'{tuple(logits.shape)} and {tuple(indices.shape)}')
    n = logits.size(1)
    if check and indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= n):
        raise ValueError(f'uniform_entropy_loss: indices must be in [0, {n}), got '
                         f'{int(indices.min())}..{int(indices.max())}')
    if self_logit is not None and (math.isnan(self_logit) or self_logit == math.inf):
        raise ValueError(f'uniform_entropy_loss: self_logit must be finite, -inf or None, '
                         f'got {self_logit}')
    x = logits if logits.dtype == torch.float64 else logits.float()
    own = indices.view(-1, 1)
    if self_logit is not None:
        x = x.scatter(1, own, self_logit)  # out of place: no gradient to the own logit
    log_p = F.log_softmax(x, dim=1)
    log_p_term = log_p
    if self_logit == -math.inf:  # p = 0 there: 0 · log 0 := 0 (and no NaN gradient)
        log_p_term = log_p.scatter(1, own, 0.0)
    entropy = -(log_p.exp() * log_p_term).sum(1)
    return entropy.mean()


def ue_weight(epoch_in_round: int, step: int = 80, factor: float = 0.2) -> float:
    """UE weight ``w(t) = factor · (t // step)`` for epoch ``t`` (0-based) of the round.

    Paper / official code: 0 for the first 80 epochs of each round, then +0.2 every 80
    epochs (0.2 at 80–159, 0.4 at 160–199 of a 200-epoch round).
    """
    if epoch_in_round < 0 or step <= 0:
        raise ValueError(f'ue_weight: need epoch_in_round >= 0 and step > 0, got '
                         f'epoch_in_round={epoch_in_round}, step={step}')
    return factor * (int(epoch_in_round) // int(step))
