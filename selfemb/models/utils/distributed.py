"""Collective helpers that are no-ops in a single process."""
from typing import Optional, Tuple

import torch
import torch.distributed as dist


def all_gather_cat(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` from every rank along dim 0, in rank order (no gradient).

    Every rank must pass a tensor of the same shape (mmengine's samplers pad the
    last batch so that this holds). Returns ``x`` itself in a single process.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def all_reduce_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over ranks (a copy); ``x`` itself in a single process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    x = x.clone()
    dist.all_reduce(x)
    return x / dist.get_world_size()


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def batch_shuffle(x: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Shuffle BN, step 1 (MoCo, He et al. 2020 §3.3): this rank's slice of a random
    permutation of the all-gathered batch, and the permutation (``None`` alone).

    Every rank draws a permutation (so all ranks consume their RNG alike) and rank 0's
    is broadcast. A key encoder in train mode then normalises each rank's slice with the
    BatchNorm statistics of images from other ranks. A no-op in a single process (the
    batch keeps its own statistics). Every rank must pass the same shape.
    """
    world = _world()
    if world == 1:
        return x, None
    gathered = all_gather_cat(x)
    perm = torch.randperm(gathered.size(0), device=x.device)
    dist.broadcast(perm, 0)
    rank, b = dist.get_rank(), x.size(0)
    return gathered[perm[rank * b:(rank + 1) * b]], perm


def batch_unshuffle(y: torch.Tensor, perm: Optional[torch.Tensor]) -> torch.Tensor:
    """Shuffle BN, step 2: the outputs ``y`` of :func:`batch_shuffle`'d inputs back in
    this rank's original order (all-gather, invert ``perm``, take this rank's rows)."""
    if perm is None:
        return y
    gathered = all_gather_cat(y)
    restored = torch.empty_like(gathered)
    restored[perm] = gathered
    rank, b = dist.get_rank(), y.size(0)
    return restored[rank * b:(rank + 1) * b]


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the backward sums the incoming gradients over ranks too, so each
    rank's input receives the gradient of every rank's loss through the shared sum."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` over ranks, differentiable (the gradient is summed over ranks as
    well); ``x`` itself in a single process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return _AllReduceSum.apply(x)
