"""Deterministic building blocks of online (mini-batch) k-means on a feature bank.

Every function gives the same result for the same input on every rank (no atomics in
float reductions, ties broken by the lowest index), so ranks that hold identical
replicas of a bank stay identical without exchanging it.
"""
import contextlib
from typing import Iterator, Tuple

import torch

_BLOCK = 1 << 24  # rows x clusters per similarity block


@contextlib.contextmanager
def deterministic_ops(device: torch.device) -> Iterator[None]:
    """Turn on PyTorch's deterministic algorithms while inside (CUDA ``index_add_``
    otherwise accumulates with atomics in an arbitrary order); a no-op on the CPU."""
    if torch.device(device).type != 'cuda' or torch.are_deterministic_algorithms_enabled():
        yield
        return
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(False)


def label_counts(labels: torch.Tensor, num_labels: int) -> torch.Tensor:
    """Members per label (``num_labels`` int64) of ``labels`` in ``[0, num_labels)``.

    A scatter-add of ones, not ``torch.bincount``, which on a GPU reads the largest label
    on the host to size its output (a host synchronisation); integer sums are exact in
    any order."""
    labels = labels.long()
    return torch.zeros(num_labels, dtype=torch.long, device=labels.device).scatter_add_(
        0, labels, torch.ones_like(labels))


def cluster_sums(features: torch.Tensor, labels: torch.Tensor,
                 num_clusters: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-cluster feature sums (``k x D`` float32) and member counts (``k`` int64)."""
    sums = features.new_zeros(num_clusters, features.size(1), dtype=torch.float32)
    with deterministic_ops(features.device):
        sums.index_add_(0, labels, features.float())
    return sums, label_counts(labels, num_clusters)


def cluster_means(features: torch.Tensor, labels: torch.Tensor, num_clusters: int,
                  previous: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Centroids = mean of each cluster's members (``previous`` kept for empty clusters),
    and the member counts."""
    sums, counts = cluster_sums(features, labels, num_clusters)
    means = sums / counts.clamp(min=1).unsqueeze(1).to(sums.dtype)
    return torch.where((counts > 0).unsqueeze(1), means, previous.float()), counts


def nearest_centroid(features: torch.Tensor, centroids: torch.Tensor,
                     allowed: torch.Tensor = None) -> torch.Tensor:
    """Index of the nearest centroid (squared Euclidean distance, the k-means criterion)
    of every row, computed in blocks as ``argmax(2 f·c - |c|²)``; ``allowed`` (``k``
    bool) restricts the candidates."""
    centroids = centroids.float()
    bias = -(centroids * centroids).sum(1)
    if allowed is not None:
        bias = bias.masked_fill(~allowed, float('-inf'))
    rows = max(1, _BLOCK // max(1, centroids.size(0)))
    out = [torch.argmax(2 * features[i:i + rows].float() @ centroids.t() + bias, dim=1)
           for i in range(0, features.size(0), rows)]
    return torch.cat(out) if out else features.new_zeros(0, dtype=torch.long)


def split_largest(features: torch.Tensor, labels: torch.Tensor, counts: torch.Tensor,
                  target: int) -> torch.Tensor:
    """Move half of the largest cluster to cluster ``target`` (in place on ``labels`` and
    ``counts``); returns the largest cluster's id.

    Rule (deterministic, no randomness): with ``c`` the largest cluster's mean and ``f``
    its member farthest from ``c``, the ``floor(n/2)`` members with the largest
    projection on ``f - c`` move (the half on ``f``'s side), ties by lower row index.
    """
    largest = int(torch.argmax(counts))
    members = torch.nonzero(labels == largest).squeeze(1)
    if members.numel() < 2:
        raise RuntimeError(f'cannot refill cluster {target}: the largest cluster has '
                           f'{members.numel()} member(s); need num_clusters <= samples')
    feats = features[members].float()
    centred = feats - feats.mean(0, keepdim=True)
    far = torch.argmax((centred * centred).sum(1))
    proj = centred @ centred[far]
    order = torch.sort(-proj, stable=True).indices
    moved = members[order[:members.numel() // 2]]
    labels[moved] = target
    counts[target] += moved.numel()
    counts[largest] -= moved.numel()
    return largest
