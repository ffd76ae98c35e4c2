"""Batch spherical k-means on the device (CLD's local grouping), pure torch.

Used by CLD every training step on the batch's group features, so it is small, fixed in
cost (a set number of Lloyd iterations, no convergence test) and deterministic:

* init: ``k`` rows evenly spaced over the batch, ``x[floor(j * n / k)]`` for j < k
  (the first ``k`` rows when ``k == n``); the batch order is already random;
* assignment: the centroid of largest cosine similarity (ties: the lower index);
* update: the L2-normalised sum of the members (spherical k-means);
* empty cluster: re-seeded with the point least similar to its own centroid (the
  farthest point, lowest index on ties); that point moves to the empty cluster. Several
  empty clusters take the farthest points in order of cluster index; a point whose move
  would empty its own cluster is skipped. Applied after every assignment step.

``k > n`` is a ``ValueError`` (the official CLD code silently asks for more clusters than
samples on a GPU). :func:`global_batch_kmeans` clusters the all-gathered batch of every
rank — identical on all ranks — and hands each rank its own rows' labels.

Both run without gradient. The official CLD code lets the loss differentiate through
the centroids (the last iteration's means of the live features); to do the same, keep
the labels and rebuild the centroids with :func:`centroids_from_labels`.

:func:`release_kmeans` / :func:`mean_centroids` are the official code's own k-means and
centroids (first ``k`` rows as init, Euclidean assignment, plain means, an empty cluster
left at the zero vector), for ``CLDHead(centroids='release')``.
"""
from typing import Callable, Tuple

import torch
import torch.distributed as dist
import torch.nn.functional as F

from .clustering import label_counts
from .distributed import all_gather_cat, all_reduce_sum


def _check(x: torch.Tensor, k: int, num_iters: int) -> None:
    if x.dim() != 2:
        raise ValueError(f'kmeans expects an N x D matrix, got shape {tuple(x.shape)}')
    if k < 1:
        raise ValueError(f'kmeans needs k >= 1 clusters, got k={k}')
    if k > x.size(0):
        raise ValueError(f'kmeans cannot make k={k} clusters from {x.size(0)} samples: '
                         'lower num_groups or raise the (per-rank or gathered) batch size')
    if num_iters < 1:
        raise ValueError(f'kmeans needs num_iters >= 1, got {num_iters}')


def _reseed_empty(labels: torch.Tensor, sims: torch.Tensor, k: int) -> torch.Tensor:
    """Give every empty cluster the farthest point from its own centroid (see module doc).

    Points are taken farthest first (lowest index on ties), skipping any point whose
    move would empty its cluster; as a cluster is drained farthest first, that is the
    last of its members in this order. Vectorised, with no host synchronisation.
    """
    n = labels.numel()
    counts = label_counts(labels, k)
    own = sims.gather(1, labels[:, None]).squeeze(1)
    order = torch.sort(own, stable=True).indices
    position = torch.empty_like(order)
    position[order] = torch.arange(n, device=labels.device)
    last = torch.full((k, ), -1, dtype=position.dtype, device=labels.device)
    last = last.scatter_reduce(0, labels, position, reduce='amax')
    movable = (position != last[labels])[order]  # in farthest-first order
    donors = order[torch.sort((~movable).to(torch.uint8), stable=True).indices][:k]
    empty_first = torch.sort((counts > 0).to(torch.uint8), stable=True).indices
    take = torch.arange(k, device=labels.device) < (counts == 0).sum()
    labels = labels.clone()
    labels[donors] = torch.where(take, empty_first, labels[donors])
    return labels


@torch.no_grad()
def spherical_kmeans(x: torch.Tensor, k: int,
                     num_iters: int = 5) -> Tuple[torch.Tensor, torch.Tensor]:
    """Cluster the rows of ``x`` (L2-normalised here) into ``k`` groups on the sphere.

    Args:
        x: ``N x D`` features (need not be normalised; no gradient flows).
        k: Number of clusters, ``1 <= k <= N``.
        num_iters: Lloyd iterations (assign, then re-average), at least 1.

    Returns:
        ``(centroids k x D unit rows, labels N int64)``: every cluster is non-empty and
        each centroid is the normalised mean of the rows ``labels`` gives it.
    """
    _check(x, k, num_iters)
    x = F.normalize(x.detach().float(), dim=1)
    n = x.size(0)
    init = torch.div(torch.arange(k, device=x.device) * n, k, rounding_mode='floor')
    centroids = x[init].clone()
    for _ in range(num_iters):
        sims = x @ centroids.t()
        labels = _reseed_empty(sims.argmax(1), sims, k)
        # a one-hot matmul, not index_add_: deterministic on GPUs (no atomics)
        sums = F.one_hot(labels, k).to(x.dtype).t() @ x
        centroids = F.normalize(sums, dim=1)
    return centroids, labels


def mean_centroids(x: torch.Tensor, labels: torch.Tensor, k: int,
                   global_batch: bool = False) -> torch.Tensor:
    """``one_hot(labels)ᵀ x / max(count, 1)``: the plain (un-normalised) member means,
    WITH gradient through ``x``; an empty cluster's row is zero (the official CLD code's
    centroids). ``global_batch``: member sums and counts are added over ranks."""
    if labels.shape != x.shape[:1]:
        raise ValueError(f'mean_centroids: {labels.numel()} labels for {x.size(0)} rows')
    one_hot = F.one_hot(labels, k).to(x.dtype)
    sums, counts = one_hot.t() @ x, one_hot.sum(0)
    if global_batch:
        sums, counts = all_reduce_sum(sums), all_reduce_sum(counts)
    return sums / counts.clamp(min=1)[:, None]


@torch.no_grad()
def release_kmeans(x: torch.Tensor, k: int,
                   num_iters: int = 5) -> Tuple[torch.Tensor, torch.Tensor]:
    """The official CLD code's batch k-means, on the rows of ``x`` as given.

    * init: the first ``k`` rows (the batch order is random);
    * assignment: the centroid of least squared Euclidean distance (ties: lower index);
    * update: the plain mean of the members (:func:`mean_centroids`); an empty cluster
      gets the zero vector and is not re-seeded (it may win points back later).

    ``num_iters`` rounds of assign-then-update; the labels are those of the last
    assignment, the centroids their means. Computed in float32 (float64 kept).
    """
    _check(x, k, num_iters)
    x = x.detach()
    x = x if x.dtype == torch.float64 else x.float()
    centroids = x[:k].clone()
    for _ in range(num_iters):
        distances = ((x[:, None, :] - centroids[None]) ** 2).sum(-1)
        labels = distances.argmin(1)
        centroids = mean_centroids(x, labels, k)
    return centroids, labels


@torch.no_grad()
def global_batch_kmeans(x: torch.Tensor, k: int, num_iters: int = 5,
                        kmeans: Callable = spherical_kmeans
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
    """``kmeans`` (default :func:`spherical_kmeans`) of the batch all-gathered over ranks
    (rank order).

    Every rank computes the same centroids from the same gathered matrix; the labels
    returned are those of this rank's own ``x.size(0)`` rows. In a single process this
    is :func:`spherical_kmeans` itself.
    """
    gathered = all_gather_cat(x.detach().float().contiguous())
    centroids, labels = kmeans(gathered, k, num_iters)
    rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    if gathered.size(0) == x.size(0):
        rank = 0
    n = x.size(0)
    return centroids, labels[rank * n:(rank + 1) * n]


def centroids_from_labels(x: torch.Tensor, labels: torch.Tensor, k: int,
                          global_batch: bool = False) -> torch.Tensor:
    """``normalise(one_hot(labels)ᵀ x)``: the spherical centroids of given labels, WITH
    gradient through ``x`` (CLD's ``M``, differentiable as in the official code).

    For unit rows ``x`` and the labels of :func:`spherical_kmeans` this equals the
    centroids it returns. ``global_batch``: the member sums are added over ranks
    (differentiably, :func:`all_reduce_sum`), matching :func:`global_batch_kmeans`.
    """
    if labels.shape != x.shape[:1]:
        raise ValueError(f'centroids_from_labels: {labels.numel()} labels for {x.size(0)} rows')
    sums = F.one_hot(labels, k).to(x.dtype).t() @ x
    if global_batch:
        sums = all_reduce_sum(sums)
    return F.normalize(sums, dim=1)
