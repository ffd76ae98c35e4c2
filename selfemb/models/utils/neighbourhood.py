"""AND's neighbourhood discovery and curriculum selection (Huang et al., ICML 2019).

Discovery needs, for every bank row ``m_i``, the entropy of the non-parametric
classifier ``p_i = softmax(s_i)``, ``s_ij = m_i · m_j / τ`` over all N rows (Super-AND
eq. 9, ``H_i = -Σ_j p_ij log p_ij``) and its ``k`` nearest other rows (eq. 7). The
``N x N`` similarity matrix is never materialised:

* **Entropy, fused** (default where the kernel exists): ``H_i = log Z_i - Σ_j p_ij s_ij
  = log Z_i - (m_i · o_i) / τ`` with ``o_i = Σ_j p_ij m_j``. ``o`` and ``log Z`` are
  exactly what a flash-attention kernel computes for queries = keys = values = the bank
  at scale ``1/τ``, in one fused pass that keeps the similarities in on-chip memory
  (``torch.ops.aten`` flash / memory-efficient attention with log-sum-exp output on
  CUDA, the flash kernel on CPU). A few rows are re-computed exactly as a self-check;
  on a mismatch or a missing kernel it falls back to the blocked path below, with a
  warning.
* **Entropy, blocked**: ``chunk_size`` rows at a time, one matmul, one ``exp`` pass with
  a fixed shift (rows are unit vectors, so ``s_ij <= 1/τ``: a stable log-sum-exp
  without a max pass).
* **Neighbours**: ``chunk_size`` rows at a time, one matmul in ``dtype`` and one
  ``max`` / ``topk`` pass with the row's own entry masked.

Memory is ``O(chunk_size · N)``, so N = 1.28M runs on one GPU; the official code loops
over samples in Python. (faiss would give the neighbours, but not the full-softmax
entropy, which needs every similarity anyway.)
"""
import math
import warnings
from typing import Optional, Sequence, Tuple

import numpy as np
import torch

#: elements of one ``chunk_size x N`` block when ``chunk_size`` is automatic
BLOCK_ELEMENTS = {'cuda': 1 << 28, 'cpu': 1 << 24}
#: rows re-computed by the blocked path to check the fused entropy
SELF_CHECK_ROWS = 64
#: largest |fused - blocked| entropy difference the self-check accepts, per dtype
SELF_CHECK_TOLERANCE = {torch.float32: 1e-3, torch.float16: 2e-2, torch.bfloat16: 0.1}


def auto_chunk_size(num_rows: int, device: torch.device) -> int:
    """Rows per block so that one fp32 block is about 1 GiB on a GPU, 64 MiB on CPU."""
    budget = BLOCK_ELEMENTS.get(torch.device(device).type, BLOCK_ELEMENTS['cpu'])
    return max(1, min(num_rows, budget // max(num_rows, 1)))


def _check(bank: torch.Tensor, k: int, temperature: float, chunk_size: Optional[int]) -> int:
    n = bank.size(0) if bank.dim() == 2 else 0
    if bank.dim() != 2 or not 1 <= k < n:
        raise ValueError(f'entropy_and_neighbours needs an N x D bank with 1 <= k < N, got '
                         f'bank {tuple(bank.shape)} and k={k}')
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    chunk_size = auto_chunk_size(n, bank.device) if chunk_size is None else chunk_size
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
    return chunk_size


def _blocks(n: int, chunk_size: int):
    for start in range(0, n, chunk_size):
        yield slice(start, min(start + chunk_size, n))


@torch.no_grad()
def blocked_entropy(bank: torch.Tensor, temperature: float, chunk_size: int,
                    dtype: torch.dtype = torch.float32, rows: Optional[slice] = None
                    ) -> torch.Tensor:
    """Entropy of ``softmax(m_i · Mᵀ / τ)`` for ``rows`` (default all), block by block."""
    rows = slice(0, bank.size(0)) if rows is None else rows
    norms = bank.float().norm(dim=1)
    # c_i = |m_i| max_j |m_j| / τ bounds row i's logits (= its self logit for unit rows),
    # so exp(s - c) never overflows and no max / logsumexp pass is needed
    shifts = norms * norms.max() / temperature
    keys = bank.to(dtype)
    out = []
    for block in _blocks(rows.stop - rows.start, chunk_size):
        block = slice(rows.start + block.start, rows.start + block.stop)
        queries = (bank[block].float() / temperature).to(dtype)
        shifted = (queries @ keys.t()).float().sub_(shifts[block, None])  # t = s - c <= 0
        weights = shifted.exp()  # e = Z p with Z = Σ_j e_j
        total = weights.sum(1)
        # H = -Σ p log p = log Z - Σ_j e_j t_j / Z
        out.append(total.log() - torch.einsum('ij,ij->i', weights, shifted) / total)
    return torch.cat(out)


def _attention(bank: torch.Tensor, scale: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(o, log Z)`` of softmax attention with queries = keys = values = ``bank``."""
    x = bank[None, None]  # 1 x 1 x N x D (batch, heads, sequence, dim)
    n = bank.size(0)
    if bank.device.type == 'cpu':
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            x, x, x, 0.0, False, scale=scale)
    elif bank.dtype in (torch.float16, torch.bfloat16):
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention(
            x, x, x, 0.0, False, False, scale=scale)[:2]
    else:  # fp32 on CUDA: the memory-efficient kernel (its log-sum-exp may be padded)
        out, lse = torch.ops.aten._scaled_dot_product_efficient_attention(
            x, x, x, None, True, 0.0, False, scale=scale)[:2]
    return out[0, 0], lse[0, 0, :n].float()


@torch.no_grad()
def fused_entropy(bank: torch.Tensor, temperature: float, dtype: torch.dtype = torch.float32
                  ) -> torch.Tensor:
    """Entropy of every row from one fused attention pass: ``log Z_i - (m_i · o_i) / τ``."""
    keys = bank.to(dtype).contiguous()
    out, lse = _attention(keys, 1.0 / temperature)
    return lse - torch.einsum('ij,ij->i', keys.float(), out.float()) / temperature


def softmax_entropy(bank: torch.Tensor, temperature: float = 0.1,
                    chunk_size: Optional[int] = None, dtype: torch.dtype = torch.float32,
                    fused: bool = True) -> Tuple[torch.Tensor, str]:
    """Entropy of ``softmax(m_i · Mᵀ / τ)`` (self included, as in AND) for every row.

    Returns ``(entropy, method)`` with ``method`` ``'fused'`` or ``'blocked'``: the fused
    kernel is used when ``fused`` and it exists for the device / dtype and agrees with
    the blocked computation on the first rows; otherwise the blocked path (a warning
    says why)."""
    chunk_size = _check(bank, 1, temperature, chunk_size)
    if fused:
        try:
            entropy = fused_entropy(bank, temperature, dtype)
            rows = slice(0, min(SELF_CHECK_ROWS, bank.size(0)))
            reference = blocked_entropy(bank, temperature, chunk_size, torch.float32, rows)
            gap = float((entropy[rows] - reference).abs().max())
            if gap <= SELF_CHECK_TOLERANCE.get(dtype, 0.1) and bool(entropy.isfinite().all()):
                return entropy, 'fused'
            reason = f'fused entropy differs from the blocked one by {gap:.3g}'
        except (RuntimeError, TypeError) as error:  # no kernel for this device / dtype /
            # dim, or a private op whose signature this torch version does not have
            reason = f'no fused attention kernel ({str(error).splitlines()[0][:200]})'
        warnings.warn(f'softmax_entropy: {reason}; using the blocked path')
    return blocked_entropy(bank, temperature, chunk_size, dtype), 'blocked'


@torch.no_grad()
def nearest_neighbours(bank: torch.Tensor, k: int = 1, chunk_size: Optional[int] = None,
                       dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``N x k`` nearest other rows of every row (largest ``m_i · m_j``, nearest first)."""
    chunk_size = _check(bank, k, 1.0, chunk_size)
    keys = bank.to(dtype)
    neighbours = torch.empty(bank.size(0), k, dtype=torch.long, device=bank.device)
    for block in _blocks(bank.size(0), chunk_size):
        sims = keys[block] @ keys.t()
        width = block.stop - block.start
        sims[torch.arange(width, device=bank.device),
             torch.arange(block.start, block.stop, device=bank.device)] = float('-inf')
        nearest = sims.max(1, keepdim=True) if k == 1 else sims.topk(k, dim=1)
        neighbours[block] = nearest.indices
    return neighbours


def entropy_and_neighbours(bank: torch.Tensor, k: int = 1, temperature: float = 0.1,
                           chunk_size: Optional[int] = None,
                           dtype: torch.dtype = torch.float32, fused: bool = True
                           ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Entropy of ``softmax(m_i · Mᵀ / τ)`` and the ``k`` nearest other rows of each row.

    Args:
        bank: ``N x D`` L2-normalised memory (any device; the work runs there).
        k: neighbours per row; the row itself is excluded (needs ``k < N``).
        temperature: τ of the softmax (0.1 in AND).
        chunk_size: rows per block; ``None`` picks :func:`auto_chunk_size`. Results do
            not depend on it.
        dtype: similarity precision (``torch.float16`` / ``bfloat16`` are faster on a
            GPU; neighbours then agree up to that rounding); reductions run in fp32.
        fused: compute the entropy with the fused attention kernel where it exists
            (:func:`softmax_entropy`); ``False`` forces the blocked path.

    Returns:
        ``(entropy, neighbours)``: fp32 ``N`` (self included, as in AND) and int64
        ``N x k``, nearest first (largest cosine similarity).
    """
    chunk_size = _check(bank, k, temperature, chunk_size)
    entropy, _ = softmax_entropy(bank, temperature, chunk_size, dtype, fused)
    if not bool(torch.isfinite(entropy).all()):
        norms = bank.float().norm(dim=1)
        raise ValueError('entropy_and_neighbours: non-finite entropy; the bank must hold '
                         'L2-normalised rows (norms '
                         f'{float(norms.min()):.3g}..{float(norms.max()):.3g})')
    return entropy, nearest_neighbours(bank, k, chunk_size, dtype)


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
