"""Clocks: timed windows with a device sync only at their boundaries, the host time
spent issuing each step, and GPU-busy time (sum of device kernel time) from the profiler."""
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

import torch
from torch.autograd import DeviceType


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'cpu ({torch.get_num_threads()} threads)'


@dataclass
class Window:
    """One timed window: ``steps`` steps in ``wall_s`` seconds (synchronised at both
    ends), of which ``host_s`` were spent inside the steps' Python calls (no sync)."""
    steps: int
    wall_s: float
    host_s: float

    @property
    def ms_per_step(self) -> float:
        return 1000.0 * self.wall_s / self.steps

    @property
    def host_ms_per_step(self) -> float:
        return 1000.0 * self.host_s / self.steps


def time_windows(step: Callable[[], object], warmup: int, iters: int, repeats: int,
                 device: torch.device) -> List[Window]:
    """``repeats`` back-to-back windows of ``iters`` calls of ``step`` after ``warmup``
    untimed calls; the device is synchronised only between windows."""
    for _ in range(warmup):
        step()
    sync(device)
    windows = []
    for _ in range(repeats):
        host = 0.0
        start = time.perf_counter()
        for _ in range(iters):
            issued = time.perf_counter()
            step()
            host += time.perf_counter() - issued
        sync(device)
        windows.append(Window(iters, time.perf_counter() - start, host))
    return windows


def device_kernel_us(prof) -> float:
    """Microseconds of device activity (kernels, copies, sets) a profiler recorded, as
    the "Self CUDA time total" of its table: device events, user annotations left out."""
    return float(sum(e.self_device_time_total for e in prof.events()
                     if e.device_type == DeviceType.CUDA and not e.is_user_annotation))


def start_profiler(device: torch.device):
    """A started ``torch.profiler`` recording CPU and CUDA activity (CUDA only)."""
    if device.type != 'cuda':
        return None
    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    prof = torch.profiler.profile(activities=activities)
    prof.start()
    return prof


def stop_profiler(prof, steps: int, device: torch.device) -> Optional[float]:
    """GPU-busy milliseconds per step of a profiler from :func:`start_profiler`; ``None``
    if it recorded no device activity (e.g. no CUPTI), rather than a busy time of 0."""
    if prof is None:
        return None
    sync(device)
    prof.stop()
    busy_us = device_kernel_us(prof)
    return busy_us / 1000.0 / steps if busy_us > 0 else None


def gpu_busy_ms(step: Callable[[], object], steps: int, device: torch.device
                ) -> Optional[float]:
    """GPU-busy milliseconds per call of ``step`` over ``steps`` profiled calls (``None``
    on CPU: there is no device to be busy)."""
    if device.type != 'cuda' or steps < 1:
        return None
    sync(device)
    prof = start_profiler(device)
    for _ in range(steps):
        step()
    return stop_profiler(prof, steps, device)
