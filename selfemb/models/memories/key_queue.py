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

    Args:
        length: Keys kept. feat_dim: Their dimension. seed: Of the initial random keys.
        allow_overflow: A push of more keys than ``length`` keeps the last ``length`` (as
            if written one by one); ``False`` makes it an error (CLDm: the queue must hold
            at least one global batch).
    """

    def __init__(self, length: int, feat_dim: int, seed: int = 0,
                 allow_overflow: bool = True) -> None:
        super().__init__()
        if length < 1:
            raise ValueError(f'KeyQueue length must be >= 1, got {length}')
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer('keys', F.normalize(torch.randn(length, feat_dim, generator=gen),
                                                 dim=1))
        self.register_buffer('ptr', torch.tensor(0, dtype=torch.long))
        self.allow_overflow = allow_overflow

    def current(self) -> torch.Tensor:
        """A copy of the ``length x D`` keys, safe to use as negatives in the graph while
        :meth:`push` overwrites the queue in place after the loss."""
        return self.keys.clone()

    @torch.no_grad()
    def push(self, keys: torch.Tensor) -> None:
        """Enqueue the all-gathered ``B x D`` keys, overwriting the oldest rows."""
        keys = all_gather_cat(keys.detach().to(self.keys.dtype))
        length, total = self.keys.size(0), keys.size(0)
        if total > length and not self.allow_overflow:
            raise ValueError(f'key queue of queue_len={length} is smaller than the global batch '
                             f'{total}; raise queue_len')
        keys = keys[-length:]  # as if written one by one: the batch's last keys survive
        # the pointer stays on the device: no host synchronisation
        offset = total - keys.size(0)
        rows = (self.ptr + offset + torch.arange(keys.size(0), device=self.keys.device)) % length
        finite = torch.isfinite(keys).all(1, keepdim=True)  # NaN / Inf keys: keep the old row
        self.keys[rows] = torch.where(finite, keys, self.keys[rows])
        self.ptr.copy_((self.ptr + total) % length)
