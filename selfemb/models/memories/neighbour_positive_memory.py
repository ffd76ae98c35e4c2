"""Nearest-neighbour positives of ISIF's unseen-category recipe (Ye et al. 2019, Sec. 4.2)."""
from typing import Optional

import torch

from selfemb.registry import MODELS

from .base_memory import BaseMemory


@MODELS.register_module()
class NeighbourPositiveMemory(BaseMemory):
    """Which image gives each sample's second view in the current epoch.

    Registered buffers (checkpoints carry them, ``--resume`` restores them):

    * ``neighbours`` ``N`` int64: the nearest other training image of every sample
      (cosine of the pooled backbone features), ``-1`` before the first search.
    * ``partners`` ``N`` int64: the image the second view is cropped from this epoch —
      the sample itself or its neighbour; the identity before the first search.
    * ``epoch_idx`` 0-d int64: the epoch they were computed for (``-1``: never), so
      ``NeighbourPositiveHook`` does not recompute after a mid-epoch resume.
    """

    def __init__(self, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.register_buffer('neighbours', torch.zeros(0, dtype=torch.long))
        self.register_buffer('partners', torch.zeros(0, dtype=torch.long))
        self.register_buffer('epoch_idx', torch.tensor(-1, dtype=torch.long))

    def setup(self, num_samples: int, seed: Optional[int] = None) -> None:
        """No neighbours yet; every sample is its own partner."""
        device = self.partners.device
        self.num_samples = num_samples
        self.neighbours = torch.full((num_samples, ), -1, dtype=torch.long, device=device)
        self.partners = torch.arange(num_samples, device=device)
        self.epoch_idx = torch.tensor(-1, dtype=torch.long, device=device)

    @torch.no_grad()
    def set_partners(self, epoch: int, neighbours: torch.Tensor, partners: torch.Tensor) -> None:
        """Install the neighbours and partners computed for ``epoch``."""
        n = self.partners.numel()
        if n == 0:
            raise RuntimeError(f'{type(self).__name__} is not set up: add MemoryInitHook to '
                               'default_hooks so it is sized from the dataset')
        for name, value in (('neighbours', neighbours), ('partners', partners)):
            if value.shape != (n, ):
                raise ValueError(f'{type(self).__name__}.set_partners: {name} must have shape '
                                 f'({n},), got {tuple(value.shape)}')
            if int(value.min()) < 0 or int(value.max()) >= n:
                raise ValueError(f'{name} must lie in [0, {n}), got '
                                 f'[{int(value.min())}, {int(value.max())}]')
        rows = torch.arange(n, device=partners.device)
        if not bool(((partners == rows) | (partners == neighbours)).all()):
            raise ValueError('every partner must be the sample itself or its neighbour')
        self.neighbours.copy_(neighbours)
        self.partners.copy_(partners)
        self.epoch_idx.fill_(epoch)
