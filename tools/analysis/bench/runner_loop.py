"""End-to-end throughput through the real Runner loop.

The config's runner is built with ``build_runner`` (as tools/train.py) in a work dir of
its own and trained as configured: dataloader, data preprocessor, ``train_step`` with the
configured optimizer wrapper, every hook (logger, schedulers, memories, method hooks).
Two hooks of the benchmark time it: :class:`IterStart` (highest priority) marks when an
iteration's hooks begin, :class:`WindowClock` (lowest priority) closes a timed window of
``iters`` iterations after ``warmup`` ones, synchronising the device only at window
boundaries, then profiles a few more iterations on CUDA and stops the run. Saving
checkpoints and the kNN monitor are pushed beyond the timed window (their interval is set
past the end of the run), so their per-iteration checks are timed, their work is not.
"""
import copy
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch
from mmengine.hooks import CheckpointHook, Hook

from selfemb.engine.cuda_graph import CudaGraphHook
from selfemb.engine.hooks.knn_eval_hook import KNNEvalHook
from selfemb.engine.model_loading import unwrap
from selfemb.engine.runner import build_runner

from .timing import Window, start_profiler, stop_profiler, sync

#: interval given to the hooks pushed beyond the timed window
NEVER = 10 ** 9


class StopBenchmark(Exception):
    """Raised by :class:`WindowClock` once it has what it needs: ends ``runner.train()``."""


class IterStart(Hook):
    """Marks the start of every training iteration's hooks (host clock, no sync)."""

    priority = 'HIGHEST'

    def __init__(self) -> None:
        self.started = 0.0

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self.started = time.perf_counter()


class WindowClock(Hook):
    """Times ``repeats`` windows of ``iters`` iterations after ``warmup`` ones (the device
    synchronised at window boundaries only), then GPU-busy time over ``profile_steps``
    more iterations on CUDA, then raises :class:`StopBenchmark`."""

    priority = 'LOWEST'

    def __init__(self, start: IterStart, warmup: int, iters: int, repeats: int,
                 profile_steps: int, device: torch.device) -> None:
        self.start, self.device = start, device
        self.warmup, self.iters, self.repeats = warmup, iters, repeats
        self.profile_steps = profile_steps if device.type == 'cuda' else 0
        self.done = 0  # finished iterations
        self.windows: List[Window] = []
        self.opened: Optional[float] = None  # start of the open window
        self.host = 0.0
        self.epoch_ends_in_windows = 0
        self.profiler = None
        self.gpu_busy_ms: Optional[float] = None
        self.finished = False

    @property
    def iterations_needed(self) -> int:
        return self.warmup + self.iters * self.repeats + self.profile_steps

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        now = time.perf_counter()
        self.done += 1
        if self.opened is not None:
            self.host += now - self.start.started
        timed = self.done - self.warmup
        if timed >= 0 and timed % self.iters == 0 and len(self.windows) < self.repeats:
            sync(self.device)
            now = time.perf_counter()
            if self.opened is not None:
                self.windows.append(Window(self.iters, now - self.opened, self.host))
            self.opened, self.host = (now, 0.0) if len(self.windows) < self.repeats else (None, 0)
            if len(self.windows) == self.repeats:
                self.profiler = start_profiler(self.device) if self.profile_steps else None
        if len(self.windows) == self.repeats and \
                self.done == self.warmup + self.iters * self.repeats + self.profile_steps:
            self.gpu_busy_ms = stop_profiler(self.profiler, self.profile_steps, self.device)
            self.finished = True
            raise StopBenchmark

    def after_train_epoch(self, runner) -> None:
        if self.opened is not None:
            self.epoch_ends_in_windows += 1


def push_beyond_run(runner) -> List[str]:
    """Set the interval of the checkpoint and kNN-monitor hooks past the end of the run;
    returns what was changed, for the output."""
    pushed = []
    for hook in runner.hooks:
        if isinstance(hook, (CheckpointHook, KNNEvalHook)) and getattr(hook, 'interval', 0) > 0:
            pushed.append(f'{type(hook).__name__} (interval {hook.interval})')
            hook.interval = NEVER
    return pushed


@dataclass
class RunnerTiming:
    windows: List[Window]
    gpu_busy_ms: Optional[float]
    model: torch.nn.Module  # the runner's model, after the timed iterations
    batch: dict  # one batch of the runner's training dataloader
    info: Dict[str, object] = field(default_factory=dict)


def time_runner_loop(cfg, work_dir: str, warmup: int, iters: int, repeats: int,
                     profile_steps: int, device: torch.device) -> RunnerTiming:
    """Train ``cfg`` through its Runner for the timed windows (see the module docstring)."""
    if warmup < 1 or iters < 1 or repeats < 1:
        raise SystemExit(f'the Runner-loop timing needs --warmup >= 1 (the first iteration '
                         f'builds and autotunes), --iters >= 1 and --repeats >= 1; got '
                         f'{warmup}, {iters}, {repeats}')
    cfg = copy.deepcopy(cfg)
    cfg.work_dir, cfg.launcher = work_dir, 'none'
    runner = build_runner(cfg)
    pushed = push_beyond_run(runner)
    start = IterStart()
    clock = WindowClock(start, warmup, iters, repeats, profile_steps, device)
    runner.register_hook(start)
    runner.register_hook(clock)
    try:
        runner.train()
    except StopBenchmark:
        pass
    if not clock.finished:
        raise SystemExit(f'{cfg.filename}: the run trained {clock.done} iterations, the '
                         f'benchmark needs {clock.iterations_needed} (--warmup + --iters x '
                         '--repeats, + profiled steps on CUDA): lower them or train longer '
                         '(--cfg-options train_cfg.max_epochs=...)')
    losses = runner.message_hub.log_scalars.get('train/loss')
    info: Dict[str, object] = {
        'end_to_end_runner_iters': clock.done,
        'end_to_end_loss_updates': 0 if losses is None else int(len(losses.data[0])),
        'end_to_end_epoch_ends_in_windows': clock.epoch_ends_in_windows,
        'end_to_end_hooks': [type(h).__name__ for h in runner.hooks
                             if not isinstance(h, (IterStart, WindowClock))],
        'end_to_end_pushed_beyond_window': pushed,
        'end_to_end_cuda_graph': graph_counts(runner),
    }
    model = unwrap(runner.model)
    batch = next(iter(runner.train_loop.dataloader))
    return RunnerTiming(clock.windows, clock.gpu_busy_ms, model, batch, info)


def graph_counts(runner) -> Optional[Dict[str, int]]:
    """The whole-step CUDA graph's captures and replays over the run (``None`` without
    ``cuda_graph.enable``): a graphed figure whose replays are 0 ran eagerly."""
    hook = next((h for h in runner.hooks if isinstance(h, CudaGraphHook)), None)
    if hook is None or hook.step is None:
        return None
    return dict(captures=hook.step.captures, replays=hook.step.replays,
                captured_on_cuda=bool(hook.step.capture))
