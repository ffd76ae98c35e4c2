"""A sampler that draws uniformly over pseudo classes (UIC / DeepCluster class balance)."""
import math
from typing import Iterator, Optional, Sized

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from selfemb.registry import DATA_SAMPLERS


def balanced_indices(labels: torch.Tensor, total: int, generator: torch.Generator) -> torch.Tensor:
    """``total`` sample indices with (as near as possible) equal counts per non-empty class.

    With C non-empty classes, ``total = q · C + r``: every class gets ``q`` draws and
    ``r`` classes, chosen at random, one more. A class of ``n`` members fills its ``m``
    draws by cycling through its members in a random order, so each member is drawn
    ``floor(m/n)`` or ``ceil(m/n)`` times (every member when ``m >= n``, a random
    subset otherwise). The result is shuffled. Fully vectorised (N = 1.28M, K = 3000).
    """
    labels = labels.long().cpu()
    n = labels.numel()
    counts = torch.bincount(labels)
    classes = (counts > 0).nonzero()[:, 0]
    sizes = counts[classes]
    quota = torch.full_like(sizes, total // len(classes))
    quota[torch.randperm(len(classes), generator=generator)[:total % len(classes)]] += 1
    # members grouped by class, in random order within their class
    shuffled = torch.randperm(n, generator=generator)
    members = shuffled[torch.sort(labels[shuffled], stable=True).indices]
    starts = torch.cumsum(sizes, 0) - sizes
    owner = torch.repeat_interleave(torch.arange(len(classes)), quota)
    offset = torch.arange(total) - torch.repeat_interleave(torch.cumsum(quota, 0) - quota, quota)
    draws = members[starts[owner] + offset % sizes[owner]]
    return draws[torch.randperm(total, generator=generator)]


@DATA_SAMPLERS.register_module()
class ClassBalancedSampler(Sampler):
    """Each epoch, ``num_samples`` draws spread equally over the non-empty pseudo classes
    (:func:`balanced_indices`); each rank takes its shard ``[rank::world_size]`` of the
    same global list (extended to a multiple of the world size), like ``DefaultSampler``.

    The order depends only on ``(seed, epoch, labels)``: ``set_epoch`` (called by
    ``DistSamplerSeedHook``) and ``set_labels`` (called by ``UICLabelHook`` before every
    epoch with the labels of the model's ``PseudoLabelMemory``, which checkpoints carry)
    restore it exactly on ``--resume``. Samples of large classes may not be drawn in an
    epoch and small classes repeat: that is the class balance of UIC / DeepCluster.

    Args:
        dataset: The training set (only its length is used).
        seed: Shared random seed; ``None`` syncs one from rank 0 (as ``DefaultSampler``).
        num_samples: Draws per epoch over all ranks; default ``len(dataset)``.
    """

    def __init__(self, dataset: Sized, seed: Optional[int] = None,
                 num_samples: Optional[int] = None) -> None:
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        total = len(dataset) if num_samples is None else num_samples
        if total < 1:
            raise ValueError(f'ClassBalancedSampler needs num_samples >= 1, got {total}')
        self.num_samples = math.ceil(total / self.world_size)
        self.total_size = self.num_samples * self.world_size
        self.labels: Optional[torch.Tensor] = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def set_labels(self, labels: torch.Tensor) -> None:
        """The pseudo label of every sample of the dataset (``N`` integers >= 0)."""
        labels = torch.as_tensor(labels).detach().cpu().long()
        if labels.shape != (len(self.dataset), ):
            raise ValueError(f'ClassBalancedSampler needs one label per sample '
                             f'({len(self.dataset)}), got shape {tuple(labels.shape)}')
        if labels.numel() and int(labels.min()) < 0:
            raise ValueError('ClassBalancedSampler labels must be >= 0')
        self.labels = labels

    def __iter__(self) -> Iterator[int]:
        if self.labels is None:
            raise RuntimeError('ClassBalancedSampler has no pseudo labels: add UICLabelHook '
                               '(it calls set_labels before every epoch)')
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        indices = balanced_indices(self.labels, self.total_size, generator)
        return iter(indices[self.rank:self.total_size:self.world_size].tolist())

    def __len__(self) -> int:
        return self.num_samples
