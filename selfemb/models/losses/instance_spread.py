"""Invariant and spreading instance loss (Ye et al., CVPR 2019, eq. 7)."""
import torch
import torch.nn.functional as F


def instance_spread_loss(features: torch.Tensor, temperature: float = 0.1,
                         detach_key: bool = True) -> torch.Tensor:
    """ISIF loss over the ``2B`` features of two views, ``[f_1..f_B, f̂_1..f̂_B]``.

    With ``s_ik = f_i · f_k / τ`` and a softmax over the other ``2B - 1`` features,
    ``P_ik = exp(s_ik) / Σ_{l≠i} exp(s_il)``, each feature ``i`` with partner ``p(i)``
    (the same image's other view) contributes::

        -log P_{i,p(i)} - Σ_{k ∉ {i, p(i)}} log(1 - P_ik)

    and the loss is their sum divided by ``2B``: the positive view is classified as
    the same instance (invariance) while every other image is pushed away (spreading).

    Args:
        features: ``2B x D`` L2-normalised features, view 1 stacked over view 2.
        temperature: τ (0.1 in the paper).
        detach_key: Stop the gradient through the key side of every inner product, so
            only the anchor ``f_i`` of row ``i`` receives gradient — the convention of the
            official implementation (default). ``False`` differentiates both sides.

    Returns:
        Scalar loss.
    """
    n = features.size(0)
    if features.dim() != 2 or n < 4 or n % 2:
        raise ValueError('instance_spread_loss expects 2B x D features with B >= 2, '
                         f'got shape {tuple(features.shape)}')
    if features.dtype != torch.float64:
        features = features.float()
    keys = features.detach() if detach_key else features
    logits = features @ keys.t() / temperature
    eye = torch.eye(n, dtype=torch.bool, device=features.device)
    log_prob = F.log_softmax(logits.masked_fill(eye, float('-inf')), dim=1)
    rows = torch.arange(n, device=features.device)
    partner = (rows + n // 2) % n
    positive = log_prob[rows, partner]
    negative_mask = ~eye
    negative_mask[rows, partner] = False
    log_not_chosen = torch.log1p(-log_prob.exp().masked_fill(~negative_mask, 0.0))
    return -(positive.sum() + log_not_chosen.sum()) / n
