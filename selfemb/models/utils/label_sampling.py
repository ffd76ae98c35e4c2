"""Positive / negative sampling from a pseudo-labelled bank (InterCLR §3.2), vectorised.

Xie et al., "Delving into Inter-Image Invariance for Unsupervised Visual
Representations": the positive of anchor ``i`` is a random bank entry with its label;
its ``K`` negatives come from the entries with another label, ``S_i^n``, by strategy:

* ``hard``: the ``K`` entries of ``S_i^n`` most similar (cosine) to the anchor;
* ``semihard``: ``K`` drawn at random (without replacement) from the pool of the
  ``P_i = max(K, ceil(pool_fraction · |S_i^n|))`` most similar entries (10 % in the
  paper; the pool never falls below ``K``, where it equals ``hard``);
* ``semieasy``: the same from the ``P_i`` least similar entries;
* ``random``: ``K`` drawn uniformly from ``S_i^n`` (with replacement: no N-sized work).

When ``|S_i^n| < K`` (a cluster holding nearly the whole bank) the missing slots repeat
valid negatives. Similarities are computed in blocks of anchors so that a block of
``rows x N`` stays under ``block_size`` floats. Random draws use the global torch
generator of the anchors' device (restored on resume by ``RandomStateHook``).
"""
import math
from typing import Optional, Tuple

import torch

from .clustering import label_counts

STRATEGIES = ('hard', 'semihard', 'random', 'semieasy')


def label_segments(labels: torch.Tensor, num_labels: Optional[int] = None
                   ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``order`` (rows sorted by label, stable), ``start`` and ``count`` per label id.

    ``num_labels``: labels lie in ``[0, num_labels)``; give it inside a training step
    (without it, the largest label is read on the host: a synchronisation)."""
    order = torch.sort(labels, stable=True).indices
    if num_labels is None:
        num_labels = int(labels.max()) + 1 if labels.numel() else 0
    count = label_counts(labels, num_labels)
    start = torch.cumsum(count, 0) - count
    return order, start, count


def sample_positives(labels: torch.Tensor, anchors: torch.Tensor,
                     segments: Optional[tuple] = None) -> torch.Tensor:
    """For every anchor row, a uniformly random other row with the same label (the anchor
    itself when it is alone in its cluster)."""
    order, start, count = segments if segments is not None else label_segments(labels)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=order.device)
    lab = labels[anchors]
    size, first = count[lab], start[lab]
    own = rank[anchors] - first  # position of the anchor inside its segment
    draw = (torch.rand(anchors.shape, device=anchors.device) * (size - 1).clamp(min=1)).long()
    draw = torch.minimum(draw, (size - 2).clamp(min=0))
    pick = torch.where(size > 1, draw + (draw >= own).long(), own)
    return order[first + pick]


def _sample_random(labels: torch.Tensor, anchor_labels: torch.Tensor, k: int,
                   segments: tuple) -> torch.Tensor:
    order, start, count = segments
    n = labels.numel()
    first, size = start[anchor_labels], count[anchor_labels]
    others = (n - size).unsqueeze(1)
    draw = (torch.rand(anchor_labels.numel(), k, device=labels.device) * others).long()
    draw = torch.minimum(draw, others - 1)
    pos = torch.where(draw < first.unsqueeze(1), draw, draw + size.unsqueeze(1))
    return order[pos]


def _fill_short_rows(picked: torch.Tensor, num_valid: torch.Tensor) -> torch.Tensor:
    """Rows with fewer valid candidates than columns repeat their valid ones."""
    cols = torch.arange(picked.size(1), device=picked.device).unsqueeze(0)
    valid = num_valid.clamp(min=1).unsqueeze(1)
    return picked.gather(1, torch.where(cols < valid, cols, cols % valid))


def sample_negatives(queries: torch.Tensor, bank: torch.Tensor, labels: torch.Tensor,
                     anchor_labels: torch.Tensor, num_negatives: int,
                     strategy: str = 'semihard', pool_fraction: float = 0.1,
                     block_size: int = 1 << 25,
                     segments: Optional[tuple] = None, check: bool = True) -> torch.Tensor:
    """``B x K`` bank rows whose label differs from ``anchor_labels`` (see module doc).

    Static shapes and, with ``check=False``, no host synchronisation: the semi-hard /
    semi-easy candidates are the top ``min(N, max(K, ceil(pool_fraction · N)))`` of each
    row (a bound of every pool ``P_i``), of which each row draws from its first ``P_i``.

    Args:
        queries: ``B x D`` L2-normalised anchor features (no gradient is taken).
        bank: ``N x D`` L2-normalised bank. labels: its ``N`` pseudo-labels.
        anchor_labels: ``B`` labels of the anchors.
        num_negatives: K. strategy: one of :data:`STRATEGIES`.
        pool_fraction: pool of ``semihard`` / ``semieasy`` (0.1).
        check: Raise when some anchor has no entry of another label (a host read);
            callers that know every label has another one (``ODCMemory.known_nonempty``)
            pass ``False``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f'negative sampling strategy must be one of {STRATEGIES}, '
                         f'got {strategy!r}')
    if not 0 < pool_fraction <= 1:
        raise ValueError(f'pool_fraction must be in (0, 1], got {pool_fraction}')
    n, k = labels.numel(), num_negatives
    if not 1 <= k < n:
        raise ValueError(f'num_negatives={k} must be between 1 and the bank size - 1 ({n - 1})')
    segments = segments if segments is not None else label_segments(labels)
    num_valid = n - segments[2][anchor_labels]
    if check and bool((num_valid == 0).any()):
        raise RuntimeError('every bank entry has the same pseudo-label: the inter-image '
                           'branch has no negatives (is num_clusters >= 2?)')
    if strategy == 'random':
        return _sample_random(labels, anchor_labels, k, segments)
    sign = -1.0 if strategy == 'semieasy' else 1.0
    rows = max(1, block_size // n)
    width = min(n, pool_size(n, k, pool_fraction))  # every P_i <= this: a static shape
    out = []
    for i in range(0, queries.size(0), rows):
        q, lab = queries[i:i + rows].detach().float(), anchor_labels[i:i + rows]
        sim = sign * (q @ bank.t().float())
        sim.masked_fill_(labels.unsqueeze(0) == lab.unsqueeze(1), float('-inf'))
        valid = num_valid[i:i + rows]
        if strategy == 'hard':
            picked = sim.topk(k, dim=1).indices
        else:
            pool = torch.clamp(torch.ceil(pool_fraction * valid.double()).long(), min=k)
            cand = sim.topk(width, dim=1).indices
            keys = torch.rand(cand.shape, device=cand.device)
            keys.masked_fill_(torch.arange(width, device=cand.device) >= pool.unsqueeze(1), -1.0)
            picked = cand.gather(1, keys.topk(k, dim=1).indices)
            # draws of a pool longer than the valid entries would be masked ones: keep order
            valid = torch.minimum(valid, pool)
            picked = torch.where(valid.unsqueeze(1) >= k, picked, cand[:, :k])
        out.append(_fill_short_rows(picked, valid))
    return torch.cat(out)


def pool_size(num_valid: int, num_negatives: int, pool_fraction: float = 0.1) -> int:
    """``P = max(K, ceil(pool_fraction · |S^n|))``, the semi-hard / semi-easy pool."""
    return max(num_negatives, math.ceil(pool_fraction * num_valid))
