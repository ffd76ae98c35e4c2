"""MoCo's queue of momentum-encoder keys (He et al., CVPR 2020), as registered buffers."""
import torch
import torch.nn.functional as F
from torch import nn

from ..utils import all_gather_cat


class KeyQueue(nn.Module):
    """A ring buffer of the last ``length`` L2-normalised keys of all ranks.

    ``keys`` (``length x D``, random unit vectors from a fixed seed at first, identical on
    every rank) and ``ptr`` (next row to overwrite) are registered buffers, so
    checkpoints carry the queue. :meth:`push` all-gathers the batch's keys (rank order)
    and every rank writes the same rows: replicas never diverge and are never broadcast.
    A row whose new key is NaN / Inf keeps its old key.
    """

    def __init__(self, length: int, feat_dim: int, seed: int = 0) -> None:
        super().__init__()
        if length < 1:
            raise ValueError(f'KeyQueue length must be >= 1, got {length}')
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer('keys', F.normalize(torch.randn(length, feat_dim, generator=gen),
                                                 dim=1))
        self.register_buffer('ptr', torch.tensor(0, dtype=torch.long))

    @torch.no_grad()
    def push(self, keys: torch.Tensor) -> None:
        """Enqueue the all-gathered ``B x D`` keys, overwriting the oldest rows."""
        keys = all_gather_cat(keys.detach().to(self.keys.dtype))
        length, total = self.keys.size(0), keys.size(0)
        keys = keys[-length:]  # as if written one by one: the batch's last keys survive
        start = int(self.ptr) + total - keys.size(0)
        rows = (start + torch.arange(keys.size(0), device=self.keys.device)) % length
        finite = torch.isfinite(keys).all(1, keepdim=True)  # NaN / Inf keys: keep the old row
        self.keys[rows] = torch.where(finite, keys, self.keys[rows])
        self.ptr.fill_((int(self.ptr) + total) % length)
