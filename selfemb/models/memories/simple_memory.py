"""NPID memory bank (Wu et al., CVPR 2018)."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from selfemb.registry import MODELS

from ..utils import all_gather_cat
from .base_memory import BaseMemory


def first_occurrence(indices: torch.Tensor) -> torch.Tensor:
    """Positions of the first occurrence of each distinct value of ``indices`` (a
    data-dependent shape: for hooks and tests; the step uses :func:`first_sources`)."""
    order = torch.sort(indices, stable=True).indices
    sorted_idx = indices[order]
    keep = torch.ones_like(sorted_idx, dtype=torch.bool)
    keep[1:] = sorted_idx[1:] != sorted_idx[:-1]
    return order[keep]


def first_sources(indices: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """For every position of ``indices``: the position of the first occurrence of its
    value (``source``) and whether it is that occurrence (``is_first``).

    Static shapes and no host synchronisation (a stable sort, segment starts carried
    forward by ``cummax``): writing ``values[source]`` at ``indices`` stores, for every
    distinct index, the value of its first occurrence (duplicates write the same value,
    so the write order does not matter), as deduplicating by :func:`first_occurrence`
    does."""
    n = indices.numel()
    order = torch.sort(indices, stable=True).indices
    sorted_idx = indices[order]
    starts = torch.ones(n, dtype=torch.bool, device=indices.device)
    starts[1:] = sorted_idx[1:] != sorted_idx[:-1]
    positions = torch.arange(n, device=indices.device)
    segment_start = torch.where(starts, positions, 0).cummax(0).values
    source = torch.empty_like(order)
    source[order] = order[segment_start]
    return source, source == positions


@MODELS.register_module()
class SimpleMemory(BaseMemory):
    """An ``N x D`` bank of L2-normalised features, one row per training sample.

    Update rule for the batch's rows (NPID / AND convention: ``momentum`` weights the
    OLD entry, 0.5 in the papers; OpenSelfSup's ``momentum`` weights the new one)::

        m_i <- normalise(momentum * m_i + (1 - momentum) * v_i)

    In a distributed run the indices and features of every rank are all-gathered and
    each rank applies the same update to its replica, so banks stay identical without
    ever broadcasting the bank. An index that appears twice (sampler padding) is
    updated once, from its first occurrence (:func:`first_sources`: static shapes, no
    host synchronisation, as the whole update). A NaN / Inf feature never enters the bank:
    its row keeps the old entry (what ``NonFiniteGuardHook(action='skip')`` relies on).

    :meth:`update` only queues the batch: the loss of this step still needs the bank as
    it was (autograd saved it), so the queued rows are written by :meth:`flush` before
    the next read and before a checkpoint is saved. :meth:`current_bank` is the one way
    algorithms and hooks read the bank: it flushes first.

    Args:
        feat_dim: Feature dimension D.
        momentum: Weight of the old entry.
    """

    def __init__(self, feat_dim: int = 128, momentum: float = 0.5, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f'SimpleMemory momentum must be in [0, 1), got {momentum}')
        self.feat_dim = feat_dim
        self.momentum = momentum
        self.register_buffer('bank', torch.zeros(0, feat_dim))
        # (indices, features, is_first) of the queued batch
        self._pending: Optional[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = None

    def setup(self, num_samples: int, seed: Optional[int] = None) -> None:
        """Random unit vectors, identical on every rank for the same ``seed``."""
        gen = torch.Generator().manual_seed(0 if seed is None else seed)
        bank = F.normalize(torch.randn(num_samples, self.feat_dim, generator=gen), dim=1)
        self.bank = bank.to(self.bank.device)
        self.num_samples = num_samples
        self._pending = None

    @torch.no_grad()
    def update(self, indices: torch.Tensor, features: torch.Tensor) -> None:
        """Queue the (all-gathered) batch; it is blended in by the next :meth:`flush`."""
        if self.bank.size(0) == 0:
            raise RuntimeError('SimpleMemory is not set up: add MemoryInitHook to '
                               'default_hooks so the bank is sized from the dataset')
        self.flush()
        indices = all_gather_cat(indices)
        features = all_gather_cat(features.detach().to(self.bank.dtype))
        source, is_first = first_sources(indices)
        self._pending = (indices, features[source], is_first)

    def current_bank(self) -> torch.Tensor:
        """The ``N x D`` bank with every queued update written (flushes first)."""
        if self.bank.size(0) == 0:
            raise RuntimeError(f'{type(self).__name__} is not set up: add MemoryInitHook to '
                               'default_hooks so the bank is sized from the dataset')
        self.flush()
        return self.bank

    @torch.no_grad()
    def flush(self) -> None:
        """Write the queued update: ``m_i <- normalise(mu m_i + (1 - mu) v_i)``; a row whose
        result is NaN / Inf keeps its old value (device-side, no host synchronisation)."""
        if self._pending is None:
            return
        indices, features, _ = self._pending
        self._pending = None
        old = self.bank[indices]
        new = F.normalize(self.momentum * old + (1 - self.momentum) * features, dim=1)
        self.bank[indices] = torch.where(torch.isfinite(new).all(1, keepdim=True), new, old)

    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        self.flush()
        super()._save_to_state_dict(destination, prefix, keep_vars)
