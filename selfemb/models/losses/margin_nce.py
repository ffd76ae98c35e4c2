"""MarginNCE (Xie et al., "Delving into Inter-Image Invariance for Unsupervised Visual
Representations", eq. 5)."""
import torch
import torch.nn.functional as F


def margin_nce_loss(query: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor,
                    margin: float = 0.0, temperature: float = 0.1) -> torch.Tensor:
    """InfoNCE with a cosine margin on the positive, averaged over the batch::

        L_i = -log  exp((cos(v_i, v_i+) - m) / τ)
                    / [exp((cos(v_i, v_i+) - m) / τ) + Σ_{v- ∈ V_K} exp(cos(v_i, v-) / τ)]

    ``m > 0`` is a stricter decision boundary (intra-image branch), ``m < 0`` a looser one
    (inter-image branch, -0.5 in the paper); ``m = 0`` is plain InfoNCE (eq. 1).
    Features are taken as L2-normalised (cosine = dot product); logits are fp32.

    Args:
        query: ``B x D`` anchors v_i (the gradient flows through them).
        positive: ``B x D`` positives v_i+.
        negatives: ``B x K x D`` per-anchor negatives, or ``K x D`` shared by every anchor
            (a MoCo queue).
        margin: m. temperature: τ.
    """
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    if query.dim() != 2 or positive.shape != query.shape:
        raise ValueError(f'query and positive must both be B x D, got {tuple(query.shape)} '
                         f'and {tuple(positive.shape)}')
    q = query.float()
    pos = (q * positive.float()).sum(1, keepdim=True)
    if negatives.dim() == 3:
        if negatives.shape[0] != q.shape[0] or negatives.shape[2] != q.shape[1]:
            raise ValueError(f'per-anchor negatives must be B x K x D = {q.shape[0]} x K x '
                             f'{q.shape[1]}, got {tuple(negatives.shape)}')
        neg = torch.einsum('bd,bkd->bk', q, negatives.float())
    elif negatives.dim() == 2 and negatives.shape[1] == q.shape[1]:
        neg = q @ negatives.float().t()
    else:
        raise ValueError(f'negatives must be B x K x D or K x D with D={q.shape[1]}, got '
                         f'{tuple(negatives.shape)}')
    logits = torch.cat([pos - margin, neg], dim=1) / temperature
    return F.cross_entropy(logits, logits.new_zeros(logits.size(0), dtype=torch.long))
