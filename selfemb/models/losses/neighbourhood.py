"""Anchor neighbourhood loss of AND (Huang et al., ICML 2019; Super-AND eq. 10)."""
import torch


def neighbourhood_loss(logits: torch.Tensor, indices: torch.Tensor, neighbours: torch.Tensor,
                       anchor: torch.Tensor) -> torch.Tensor:
    """AND's loss over the non-parametric classifier ``p_i = softmax(v_i · Mᵀ / τ)``.

    An anchor ``i`` is classified into its neighbourhood (itself and its selected
    neighbours ``N(i)``), every other sample into its own instance class::

        L_i = -log(p_ii + Σ_{j ∈ N(i)} p_ij)     if i is an anchor
        L_i = -log p_ii                           otherwise

    and the loss is the mean over the batch. It is evaluated as
    ``logsumexp(logits_i) - logsumexp(logits_i[{i} ∪ N(i)])``, stable for any τ.

    Args:
        logits: ``B x N`` logits ``v · Mᵀ / τ`` over the whole bank.
        indices: ``B`` bank rows of the batch's own instances.
        neighbours: ``B x k`` int64 bank rows of each sample's neighbours; ``-1`` marks
            none. Ignored for non-anchors; a neighbour equal to ``i`` counts once.
        anchor: ``B`` bool, whether each sample is an anchor.

    Returns:
        Scalar loss.
    """
    if logits.dim() != 2:
        raise ValueError(f'neighbourhood_loss expects B x N logits, got shape '
                         f'{tuple(logits.shape)}')
    b = logits.size(0)
    if indices.shape != (b, ) or anchor.shape != (b, ) or neighbours.dim() != 2 \
            or neighbours.size(0) != b:
        raise ValueError(f'neighbourhood_loss: logits {tuple(logits.shape)} need indices ({b},), '
                         f'neighbours ({b}, k) and anchor ({b},); got {tuple(indices.shape)}, '
                         f'{tuple(neighbours.shape)} and {tuple(anchor.shape)}')
    if logits.dtype != torch.float64:
        logits = logits.float()
    selected = torch.cat([indices[:, None], neighbours], dim=1)
    valid = (neighbours >= 0) & anchor[:, None] & (neighbours != indices[:, None])
    valid = torch.cat([torch.ones_like(valid[:, :1]), valid], dim=1)
    chosen = logits.gather(1, selected.clamp(min=0)).masked_fill(~valid, float('-inf'))
    return (torch.logsumexp(logits, dim=1) - torch.logsumexp(chosen, dim=1)).mean()
