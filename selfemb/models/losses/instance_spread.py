"""Invariant and spreading instance loss (Ye et al., CVPR 2019, eq. 7)."""
import torch
import torch.nn.functional as F


def instance_spread_anchor_loss(anchors: torch.Tensor, keys: torch.Tensor,
                                self_index: torch.Tensor, positive_index: torch.Tensor,
                                temperature: float = 0.1, check: bool = True) -> torch.Tensor:
    """Eq. 7 for ``M`` anchors against ``K`` keys, averaged over the anchors.

    With ``s_ik = a_i · k_k / τ`` and ``P_ik = exp(s_ik) / Σ_{l≠self(i)} exp(s_il)``, anchor
    ``i`` contributes ``-log P_{i,pos(i)} - Σ_{k ∉ {self(i), pos(i)}} log(1 - P_ik)``; the
    result is the sum over the ``M`` anchors divided by ``M``.

    Args:
        anchors: ``M x D`` L2-normalised features that receive gradient.
        keys: ``K x D`` L2-normalised features (the anchors themselves among them).
        self_index: ``M`` int64, the row of ``keys`` that is anchor ``i`` (excluded).
        positive_index: ``M`` int64, the row of ``keys`` that is ``i``'s positive.
        temperature: τ.
        check: Validate the shapes and indices (the index checks are host
            synchronisations on a GPU; callers that build valid indices every step pass
            ``False``).
    """
    m, k = anchors.size(0), keys.size(0)
    if check:
        _check_indices(anchors, keys, self_index, positive_index)
    if anchors.dtype != torch.float64:
        anchors, keys = anchors.float(), keys.float()
    logits = anchors @ keys.t() / temperature
    rows = torch.arange(m, device=anchors.device)
    is_self = torch.zeros(m, k, dtype=torch.bool, device=anchors.device)
    is_self[rows, self_index] = True
    log_prob = F.log_softmax(logits.masked_fill(is_self, float('-inf')), dim=1)
    positive = log_prob[rows, positive_index]
    not_negative = is_self.clone()
    not_negative[rows, positive_index] = True
    log_not_chosen = torch.log1p(-log_prob.exp().masked_fill(not_negative, 0.0))
    return -(positive.sum() + log_not_chosen.sum()) / m


def _check_indices(anchors: torch.Tensor, keys: torch.Tensor, self_index: torch.Tensor,
                   positive_index: torch.Tensor) -> None:
    m, k = anchors.size(0), keys.size(0)
    if anchors.dim() != 2 or keys.dim() != 2 or anchors.size(1) != keys.size(1) or k < 3:
        raise ValueError('instance_spread_anchor_loss expects M x D anchors and K x D keys '
                         f'(K >= 3), got {tuple(anchors.shape)} and {tuple(keys.shape)}')
    if self_index.shape != (m, ) or positive_index.shape != (m, ):
        raise ValueError(f'self_index and positive_index must have shape ({m},), got '
                         f'{tuple(self_index.shape)} and {tuple(positive_index.shape)}')
    if bool((self_index == positive_index).any()):
        raise ValueError('an anchor cannot be its own positive')
    for name, idx in (('self_index', self_index), ('positive_index', positive_index)):
        if m and (int(idx.min()) < 0 or int(idx.max()) >= k):
            raise ValueError(f'{name} must lie in [0, {k}), got '
                             f'[{int(idx.min())}, {int(idx.max())}]')


def instance_spread_loss(features: torch.Tensor, temperature: float = 0.1,
                         detach_key: bool = True) -> torch.Tensor:
    """ISIF loss over the ``2B`` features of two views, ``[f_1..f_B, f̂_1..f̂_B]``.

    With ``s_ik = f_i · f_k / τ`` and a softmax over the other ``2B - 1`` features,
    ``P_ik = exp(s_ik) / Σ_{l≠i} exp(s_il)``, each feature ``i`` with partner ``p(i)``
    (the same image's other view) contributes::

        -log P_{i,p(i)} - Σ_{k ∉ {i, p(i)}} log(1 - P_ik)

    and the loss is their sum divided by ``2B``: the positive view is classified as
    the same instance (invariance) while every other image is pushed away (spreading).
    It is :func:`instance_spread_anchor_loss` with every feature an anchor and a key.

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
    rows = torch.arange(n, device=features.device)
    keys = features.detach() if detach_key else features
    return instance_spread_anchor_loss(features, keys, rows, (rows + n // 2) % n, temperature,
                                       check=False)
