"""AND's neighbourhood discovery and curriculum selection (Huang et al., ICML 2019).

Discovery needs, for every bank row ``m_i``, the entropy of the non-parametric
classifier ``p_i = softmax(m_i · Mᵀ / τ)`` over all N rows (Super-AND eq. 9,
``H_i = -Σ_j p_ij log p_ij``) and its ``k`` nearest other rows (eq. 7). Both come from
the same ``N x N`` similarity matrix, which is never materialised: it is computed in
blocks of ``chunk_size`` rows (one matmul), each block reduced at once on the bank's
device: ``max`` / ``topk`` for the neighbours, one ``exp`` pass with a fixed shift (the
rows are unit vectors, so ``s_ij <= 1/τ``; a stable logsumexp without a max pass) for
the entropy. Memory is ``O(chunk_size · N)``, so N = 1.28M runs on one GPU; the official
code loops over samples in Python. (faiss would give the neighbours, but not the
full-softmax entropy, which needs every similarity anyway.)
"""
import math
from typing import Optional, Sequence, Tuple

import numpy as np
import torch

#: elements of one ``chunk_size x N`` block when ``chunk_size`` is automatic
BLOCK_ELEMENTS = {'cuda': 1 << 28, 'cpu': 1 << 24}


def auto_chunk_size(num_rows: int, device: torch.device) -> int:
    """Rows per block so that one fp32 block is about 1 GiB on a GPU, 64 MiB on CPU."""
    budget = BLOCK_ELEMENTS.get(torch.device(device).type, BLOCK_ELEMENTS['cpu'])
    return max(1, min(num_rows, budget // max(num_rows, 1)))


@torch.no_grad()
def entropy_and_neighbours(bank: torch.Tensor, k: int = 1, temperature: float = 0.1,
                           chunk_size: Optional[int] = None,
                           dtype: torch.dtype = torch.float32
                           ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Entropy of ``softmax(m_i · Mᵀ / τ)`` and the ``k`` nearest other rows of each row.

    Args:
        bank: ``N x D`` L2-normalised memory (any device; the work runs there).
        k: neighbours per row; the row itself is excluded (needs ``k < N``).
        temperature: τ of the softmax (0.1 in AND).
        chunk_size: rows per block; ``None`` picks :func:`auto_chunk_size`. Results do
            not depend on it.
        dtype: matmul precision (``torch.bfloat16`` is faster on a GPU, nearest
            neighbours then agree up to bf16 rounding); the reductions run in fp32.

    Returns:
        ``(entropy, neighbours)``: fp32 ``N`` (self included, as in AND) and int64
        ``N x k``, nearest first (largest cosine similarity).
    """
    n = bank.size(0)
    if bank.dim() != 2 or not 1 <= k < n:
        raise ValueError(f'entropy_and_neighbours needs an N x D bank with 1 <= k < N, got '
                         f'bank {tuple(bank.shape)} and k={k}')
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    chunk_size = auto_chunk_size(n, bank.device) if chunk_size is None else chunk_size
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
    norms = bank.float().norm(dim=1)
    # c_i = |m_i| max_j |m_j| / τ bounds row i's logits (= its self logit for unit rows),
    # so exp(s - c) never overflows and no max / logsumexp pass is needed
    shifts = norms * norms.max() / temperature
    keys = bank.to(dtype)
    entropy = torch.empty(n, dtype=torch.float32, device=bank.device)
    neighbours = torch.empty(n, k, dtype=torch.long, device=bank.device)
    for start in range(0, n, chunk_size):
        block = slice(start, min(start + chunk_size, n))
        rows = torch.arange(block.start, block.stop, device=bank.device)
        queries = (bank[block].float() / temperature).to(dtype)
        logits = (queries @ keys.t()).float()  # c x N block of s_ij = m_i · m_j / τ
        diagonal = (torch.arange(len(rows), device=bank.device), rows)
        self_logits = logits[diagonal]
        logits[diagonal] = float('-inf')  # a row is not its own neighbour
        nearest = logits.max(1, keepdim=True) if k == 1 else logits.topk(k, dim=1)
        neighbours[block] = nearest.indices
        logits[diagonal] = self_logits
        shifted = logits.sub_(shifts[block, None])  # t = s - c <= 0, in place
        weights = shifted.exp()  # e = Z p with Z = Σ_j e_j
        total = weights.sum(1)
        # H = -Σ p log p = log Z - Σ_j e_j t_j / Z
        entropy[block] = total.log() - torch.einsum('ij,ij->i', weights, shifted) / total
    if not bool(torch.isfinite(entropy).all()):
        raise ValueError('entropy_and_neighbours: non-finite entropy; the bank must hold '
                         'L2-normalised rows (norms '
                         f'{float(norms.min()):.3g}..{float(norms.max()):.3g})')
    return entropy, neighbours


def num_anchors(num_samples: int, round_idx: int, select_rate: float) -> int:
    """Anchors of a round: the fraction ``min(round_idx · select_rate, 1)`` of N, floored."""
    fraction = min(round_idx * select_rate, 1.0)
    return min(num_samples, int(math.floor(fraction * num_samples + 1e-6)))


def select_anchors(entropy: torch.Tensor, count: int) -> torch.Tensor:
    """``N`` bool mask of the ``count`` lowest-entropy rows (ties: lower index first)."""
    if not 0 <= count <= entropy.numel():
        raise ValueError(f'cannot select {count} anchors out of {entropy.numel()} samples')
    order = torch.sort(entropy, stable=True).indices
    anchor = torch.zeros(entropy.numel(), dtype=torch.bool, device=entropy.device)
    anchor[order[:count]] = True
    return anchor


def neighbourhood_consistency(anchor: torch.Tensor, neighbours: torch.Tensor,
                              labels: Sequence[int]) -> Optional[float]:
    """Fraction of anchor–neighbour pairs whose ground-truth labels agree (analysis only,
    Super-AND Fig. 4), over the pairs where both labels are known (>= 0); ``None`` when
    there is no such pair."""
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    anchor, neighbours = anchor.cpu(), neighbours.cpu()
    if labels.numel() != anchor.numel():
        raise ValueError(f'{labels.numel()} labels for {anchor.numel()} samples')
    rows = anchor.nonzero()[:, 0]
    pairs = neighbours[rows]
    own = labels[rows][:, None].expand_as(pairs)
    other = labels[pairs.clamp(min=0)]
    known = (pairs >= 0) & (own >= 0) & (other >= 0)
    if not bool(known.any()):
        return None
    return float((own == other)[known].float().mean())
