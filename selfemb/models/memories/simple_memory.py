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

    The queue lives in non-persistent registered buffers of a fixed shape, so a training
    step captured in a CUDA graph carries it from one replay to the next (and checkpoints
    keep their keys: the bank is flushed before it is saved): ``pending_indices``
    (``C`` int64), ``pending_features`` (``C x D``), ``pending_first`` (``C`` bool: the
    first occurrence of its row) and ``pending`` (0-d bool: a batch is queued). ``C`` is
    the largest all-gathered batch seen (re-allocated only when a larger one comes); a
    smaller batch is padded with repeats of its first row, which write that row's value
    again. :meth:`flush` always runs the same kernels, writing the rows only where
    ``pending`` is set: no host decision.

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
        self._reset_queue(torch.device('cpu'))

    def _reset_queue(self, device: torch.device, capacity: int = 0) -> None:
        """Empty queue buffers of ``capacity`` rows (nothing queued)."""
        for name, value in (
                ('pending_indices', torch.zeros(capacity, dtype=torch.long, device=device)),
                ('pending_features', torch.zeros(capacity, self.feat_dim, device=device,
                                                 dtype=self.bank.dtype)),
                ('pending_first', torch.zeros(capacity, dtype=torch.bool, device=device)),
                ('pending', torch.zeros((), dtype=torch.bool, device=device))):
            self.register_buffer(name, value, persistent=False)

    def setup(self, num_samples: int, seed: Optional[int] = None) -> None:
        """Random unit vectors, identical on every rank for the same ``seed``."""
        gen = torch.Generator().manual_seed(0 if seed is None else seed)
        bank = F.normalize(torch.randn(num_samples, self.feat_dim, generator=gen), dim=1)
        self.bank = bank.to(self.bank.device)
        self.num_samples = num_samples
        self._reset_queue(self.bank.device)

    @torch.no_grad()
    def update(self, indices: torch.Tensor, features: torch.Tensor) -> None:
        """Queue the (all-gathered) batch; it is blended in by the next :meth:`flush` (a
        batch still queued is written first)."""
        if self.bank.size(0) == 0:
            raise RuntimeError('SimpleMemory is not set up: add MemoryInitHook to '
                               'default_hooks so the bank is sized from the dataset')
        self._flush_before_queue()
        indices = all_gather_cat(indices)
        features = all_gather_cat(features.detach().to(self.bank.dtype))
        if indices.numel() == 0:
            return
        source, is_first = first_sources(indices)
        features = features[source]
        count, capacity = indices.numel(), self.pending_indices.numel()
        if count > capacity:
            self._reset_queue(self.bank.device, count)
        elif count < capacity:  # repeats of the first row write its value again
            pad = capacity - count
            indices = torch.cat([indices, indices[:1].expand(pad)])
            features = torch.cat([features, features[:1].expand(pad, -1)])
            is_first = torch.cat([is_first, is_first.new_zeros(pad)])
        self.pending_indices.copy_(indices)
        self.pending_features.copy_(features)
        self.pending_first.copy_(is_first)
        self.pending.fill_(True)

    def _flush_before_queue(self) -> None:
        """Write a batch still queued before queueing another. In a training step the
        flush of :meth:`current_bank` has written it already, and the bank the loss
        saved for backward is written with its own values, through ``bank.data`` so
        autograd does not see a modification."""
        self._write_queued(self.bank.data)

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
        self._write_queued(self.bank)

    def _write_queued(self, bank: torch.Tensor) -> None:
        """The update of :meth:`flush`, written into ``bank`` (the bank's storage) where
        a batch is queued; the queue is then empty."""
        if self.pending_indices.numel() == 0:  # nothing was ever queued
            return
        indices = self.pending_indices
        old = bank[indices]
        new = F.normalize(self.momentum * old + (1 - self.momentum) * self.pending_features,
                          dim=1)
        write = self.pending & torch.isfinite(new).all(1, keepdim=True)
        bank[indices] = torch.where(write, new, old)
        self.pending.fill_(False)

    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        self.flush()
        super()._save_to_state_dict(destination, prefix, keep_vars)
