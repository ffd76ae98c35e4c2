"""NPID bank plus AND's anchor neighbourhoods (Huang et al., ICML 2019)."""
from typing import Optional, Tuple

import torch

from selfemb.registry import MODELS

from .simple_memory import SimpleMemory


@MODELS.register_module()
class NeighbourhoodMemory(SimpleMemory):
    """:class:`SimpleMemory` plus the neighbourhoods of the current AND round.

    Registered buffers (so checkpoints carry them and ``--resume`` restores them):

    * ``bank`` ``N x D``: the NPID memory (update rule of :class:`SimpleMemory`).
    * ``neighbours`` ``N x k`` int64: the ``k`` nearest other rows of every sample
      found at the start of the round, ``-1`` before the first discovery.
    * ``anchor`` ``N`` bool: the samples whose neighbourhood is used by the loss
      (the lowest-entropy fraction of the round).
    * ``round_idx`` 0-d int64: the round these were discovered for; 0 = instance
      discrimination (no anchors). ``NeighbourhoodDiscoveryHook`` compares it with the
      round of the current epoch, so a run resumed mid-round does not recompute.

    Args:
        feat_dim: Feature dimension D.
        momentum: Weight of the OLD bank entry (0.5 in AND).
        num_neighbours: k, neighbours kept per sample (1 in AND).
    """

    def __init__(self, feat_dim: int = 128, momentum: float = 0.5, num_neighbours: int = 1,
                 init_cfg=None) -> None:
        super().__init__(feat_dim=feat_dim, momentum=momentum, init_cfg=init_cfg)
        if num_neighbours < 1:
            raise ValueError(f'NeighbourhoodMemory num_neighbours must be >= 1, '
                             f'got {num_neighbours}')
        self.num_neighbours = num_neighbours
        self.register_buffer('neighbours', torch.full((0, num_neighbours), -1, dtype=torch.long))
        self.register_buffer('anchor', torch.zeros(0, dtype=torch.bool))
        self.register_buffer('round_idx', torch.tensor(0, dtype=torch.long))

    def setup(self, num_samples: int, seed: Optional[int] = None) -> None:
        """Random unit bank (as :class:`SimpleMemory`), no neighbourhoods, round 0."""
        super().setup(num_samples, seed)
        device = self.bank.device
        self.neighbours = torch.full((num_samples, self.num_neighbours), -1, dtype=torch.long,
                                     device=device)
        self.anchor = torch.zeros(num_samples, dtype=torch.bool, device=device)
        self.round_idx = torch.tensor(0, dtype=torch.long, device=device)

    @torch.no_grad()
    def set_neighbourhoods(self, round_idx: int, anchor: torch.Tensor,
                           neighbours: torch.Tensor) -> None:
        """Install the result of the discovery for ``round_idx``: the ``N`` bool anchor
        mask and the ``N x k`` neighbour rows (``-1`` = none), copied into the buffers."""
        n = self.bank.size(0)
        if n == 0:
            raise RuntimeError(f'{type(self).__name__} is not set up: add MemoryInitHook to '
                               'default_hooks so the bank is sized from the dataset')
        if anchor.shape != (n, ) or neighbours.shape != (n, self.num_neighbours):
            raise ValueError(f'{type(self).__name__}.set_neighbourhoods needs anchor ({n},) '
                             f'and neighbours ({n}, {self.num_neighbours}), got '
                             f'{tuple(anchor.shape)} and {tuple(neighbours.shape)}')
        if neighbours.numel() and (int(neighbours.min()) < -1 or int(neighbours.max()) >= n):
            raise ValueError(f'neighbour rows must be in [-1, {n}), got '
                             f'[{int(neighbours.min())}, {int(neighbours.max())}]')
        if round_idx < 0:
            raise ValueError(f'round_idx must be >= 0, got {round_idx}')
        self.anchor.copy_(anchor.to(self.anchor.device, torch.bool))
        self.neighbours.copy_(neighbours.to(self.neighbours.device, torch.long))
        self.round_idx.fill_(round_idx)

    def neighbourhood(self, indices: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(neighbours[indices], anchor[indices])`` for a batch of bank rows."""
        if self.anchor.numel() == 0:
            raise RuntimeError(f'{type(self).__name__} is not set up: add MemoryInitHook to '
                               'default_hooks so the bank is sized from the dataset')
        return self.neighbours[indices], self.anchor[indices]
