"""Instrumented steps: the time spent in chosen functions (device-synchronised around
each call), for the share of a step that InterCLR's online k-means and sampling, or
CLD's batch clustering, take. Run as a pass of its own: the syncs would distort the
clean timings."""
import time
from typing import Callable, Dict, List, Tuple

import torch
from torch import nn

from .timing import sync, time_windows


class PartTimer:
    """Seconds spent in wrapped functions, per part name (device-synchronised); a wrapped
    call made inside another counts only in the outer one. :meth:`restore` unwraps."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.seconds, self.busy = device, {}, False
        self._wrapped: List[Tuple[object, str, object, bool]] = []

    def wrap(self, owner, attr: str, part: str) -> None:
        fn = getattr(owner, attr)
        own = attr in vars(owner)  # a module function / instance attribute, not a method

        def timed_fn(*args, **kwargs):
            if self.busy:
                return fn(*args, **kwargs)
            self.busy = True
            sync(self.device)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                sync(self.device)
                self.busy = False
                self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - start
        self._wrapped.append((owner, attr, fn, own))
        setattr(owner, attr, timed_fn)

    def restore(self) -> None:
        for owner, attr, fn, own in reversed(self._wrapped):
            if own:
                setattr(owner, attr, fn)
            else:
                delattr(owner, attr)
        self._wrapped.clear()


def interclr_parts(model: nn.Module, timer: PartTimer) -> None:
    """Time InterCLR's relabelling, centroid update and sampling inside the model's steps."""
    from selfemb.models.algorithms import interclr
    memory = getattr(model, 'memory', None)
    if not hasattr(memory, 'relabel'):
        raise SystemExit('--parts needs an InterCLR config (a model with an ODCMemory)')
    timer.wrap(memory, 'relabel', 'relabel')
    timer.wrap(memory, 'update_centroids', 'centroids')
    timer.wrap(memory, 'refill_clusters', 'centroids')
    for name in ('label_segments', 'sample_positives', 'sample_negatives'):
        timer.wrap(interclr, name, 'sampling')


def clustering_parts(model: nn.Module, timer: PartTimer) -> bool:
    """Time the ``cluster`` method of every head that has one (CLD) as part ``'kmeans'``;
    ``False`` if none has."""
    heads = [m for m in model.modules() if callable(getattr(m, 'cluster', None))]
    for head in heads:
        timer.wrap(head, 'cluster', 'kmeans')
    return bool(heads)


def instrumented_pass(step: Callable[[], None], timer: PartTimer, warmup: int, iters: int,
                      device: torch.device) -> Tuple[float, Dict[str, float]]:
    """``(seconds per step, {part: seconds per step})`` over ``iters`` steps after
    ``warmup``; the wrappers are removed afterwards."""
    try:
        for _ in range(warmup):
            step()
        timer.seconds.clear()  # the timed steps only
        [window] = time_windows(step, 0, iters, 1, device)
    finally:
        timer.restore()
    return window.wall_s / iters, {k: v / iters for k, v in timer.seconds.items()}
