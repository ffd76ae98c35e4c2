"""UIC's pseudo-label bookkeeping (Chen et al., "Unsupervised Image Classification for
Deep Representation Learning", ECCVW 2020, §4.2 "Avoid empty classes").

Pure functions on label vectors: the initial random assignment, the deterministic
split of the largest class into every empty class, and class statistics.
"""
import heapq
from typing import Dict, Optional

import torch

#: odd 32-bit multiplier of :func:`scrambled_order` (Knuth's multiplicative hash)
SCRAMBLE = 2654435761


def check_labels(labels: torch.Tensor, num_classes: int) -> None:
    """A clear error unless ``labels`` is a 1-D integer vector with values in [0, K)."""
    if labels.dim() != 1 or labels.dtype not in (torch.int32, torch.int64):
        raise ValueError(f'pseudo labels must be a 1-D integer vector, got {labels.dtype} '
                         f'{tuple(labels.shape)}')
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f'pseudo labels must lie in [0, {num_classes}), got '
                         f'[{int(labels.min())}, {int(labels.max())}]')


def random_labels(num_samples: int, num_classes: int, seed: Optional[int] = None) -> torch.Tensor:
    """Epoch-0 labels as in the official UIC code: i.i.d. uniform over the K classes
    (``torch.Generator`` seeded with ``seed``: the same on every rank given the same
    seed, which ``MemoryInitHook`` takes from rank 0), then
    :func:`split_empty_classes` so that no class starts empty."""
    if not 1 <= num_classes <= num_samples:
        raise ValueError(f'UIC needs 1 <= num_classes <= number of training samples, got '
                         f'num_classes={num_classes} for {num_samples} samples; lower '
                         'num_classes (e.g. 10 x the number of real classes)')
    gen = torch.Generator().manual_seed(0 if seed is None else seed)
    labels = torch.randint(0, num_classes, (num_samples, ), generator=gen)
    return split_empty_classes(labels, num_classes)


def scrambled_order(num_samples: int, device=None) -> torch.Tensor:
    """A fixed permutation of ``0..N-1``: sorted by ``(i · 2654435761) mod 2³²``, a
    bijection for ``i < 2³²`` that scatters neighbouring indices, so a split never
    follows the order of the files (which often is the ground-truth class order)."""
    keys = torch.arange(num_samples, dtype=torch.int64, device=device) * SCRAMBLE % (1 << 32)
    return torch.argsort(keys)


def split_empty_classes(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Give every empty class half of the currently largest class (UIC §4.2).

    Empty classes are filled in ascending class order; each takes the currently largest
    class (ties: the lowest class id). The members of a class are ordered by
    :func:`scrambled_order`; as in the official code, the class keeps the first
    ``floor(n/2)`` of them and the empty class takes the last ``ceil(n/2)``.
    Deterministic (no random generator), the same on every rank; the official code
    shuffles the largest class randomly before cutting it instead.

    Runs in ``O(N log N + K log K)``: the members of a class stay one contiguous block of
    the ordered samples, so a split cuts a block and only block ends are tracked.

    Args:
        labels: ``N`` int64 labels in ``[0, K)``.
        num_classes: K; must not exceed N (else some class must stay empty).

    Returns:
        A new ``N`` int64 vector in which every one of the K classes is non-empty.
    """
    check_labels(labels, num_classes)
    n = labels.numel()
    if num_classes > n:
        raise ValueError(f'cannot fill {num_classes} classes with {n} samples; '
                         'num_classes must not exceed the number of training samples')
    labels = labels.long()
    counts = torch.bincount(labels, minlength=num_classes).tolist()
    empty = [c for c, size in enumerate(counts) if size == 0]
    if not empty:
        return labels.clone()
    order = scrambled_order(n, labels.device)
    order = order[torch.sort(labels[order], stable=True).indices]  # by class, then key
    starts, total = [], 0
    for size in counts:
        starts.append(total)
        total += size
    heap = [(-size, c) for c, size in enumerate(counts) if size > 0]
    heapq.heapify(heap)
    for target in empty:
        neg_size, largest = heapq.heappop(heap)
        keep = -neg_size // 2
        move = -neg_size - keep
        counts[largest], counts[target] = keep, move
        starts[target] = starts[largest] + keep
        heapq.heappush(heap, (-keep, largest))
        heapq.heappush(heap, (-move, target))
    block_start = torch.tensor(starts)
    by_start = torch.argsort(block_start)
    owners = torch.repeat_interleave(by_start, torch.tensor(counts)[by_start])
    result = torch.empty_like(labels)
    result[order] = owners.to(labels.device)
    return result


def class_statistics(labels: torch.Tensor, num_classes: int) -> Dict[str, float]:
    """Non-empty classes and the smallest / largest class size."""
    counts = torch.bincount(labels.long().cpu(), minlength=num_classes)
    nonempty = counts[counts > 0]
    return dict(nonempty=int(nonempty.numel()), min_size=int(nonempty.min()),
                max_size=int(counts.max()))
