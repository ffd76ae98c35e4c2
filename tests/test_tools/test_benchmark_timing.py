"""The benchmark's clocks and summaries: window boundaries of the Runner-loop clock,
GPU-busy time from profiler events, median / spread, ratios."""
from types import SimpleNamespace

import pytest
import torch
from torch.autograd import DeviceType

from tests.test_tools.bench_loader import bench_module

timing, report, runner_loop = (bench_module(m) for m in ('timing', 'report', 'runner_loop'))
CPU = torch.device('cpu')


def test_window_clock_closes_windows_at_their_boundaries_then_stops():
    start = runner_loop.IterStart()
    clock = runner_loop.WindowClock(start, warmup=2, iters=3, repeats=2, profile_steps=5,
                                    device=CPU)  # no profiling on CPU
    assert clock.iterations_needed == 8
    runner = SimpleNamespace()
    for i in range(7):
        start.before_train_iter(runner, i)
        clock.after_train_iter(runner, i)
        if i == 3:
            clock.after_train_epoch(runner)  # inside the first window
    assert len(clock.windows) == 1 and not clock.finished
    start.before_train_iter(runner, 7)
    with pytest.raises(runner_loop.StopBenchmark):
        clock.after_train_iter(runner, 7)
    assert clock.finished and clock.done == 8 and clock.gpu_busy_ms is None
    assert [w.steps for w in clock.windows] == [3, 3]
    assert all(0 < w.host_s <= w.wall_s for w in clock.windows)
    assert clock.epoch_ends_in_windows == 1


def test_device_kernel_time_sums_device_events_without_annotations():
    events = [SimpleNamespace(device_type=DeviceType.CUDA, is_user_annotation=False,
                              self_device_time_total=120.0),
              SimpleNamespace(device_type=DeviceType.CUDA, is_user_annotation=False,
                              self_device_time_total=30.0),
              SimpleNamespace(device_type=DeviceType.CUDA, is_user_annotation=True,
                              self_device_time_total=500.0),  # ProfilerStep span
              SimpleNamespace(device_type=DeviceType.CPU, is_user_annotation=False,
                              self_device_time_total=150.0)]  # the op launching them
    assert timing.device_kernel_us(SimpleNamespace(events=lambda: events)) == 150.0
    assert timing.gpu_busy_ms(lambda: None, 3, CPU) is None


def test_time_windows_and_summary():
    calls = []
    windows = timing.time_windows(lambda: calls.append(1), warmup=2, iters=4, repeats=3,
                                  device=CPU)
    assert len(calls) == 14 and [w.steps for w in windows] == [4, 4, 4]
    fake = [timing.Window(10, 1.0, 0.5), timing.Window(10, 2.0, 0.6), timing.Window(10, 1.5, 0.7)]
    cuda = report.summarise('plain_eager', fake, 42.0, images_per_step=128,
                            views_per_step=256, on_cuda=True)
    assert cuda['plain_eager_ms_per_step'] == 150.0
    assert (cuda['plain_eager_ms_per_step_min'], cuda['plain_eager_ms_per_step_max']) == (100, 200)
    assert cuda['plain_eager_images_per_s'] == pytest.approx(128 / 0.15, rel=1e-4)
    assert cuda['plain_eager_views_per_s'] == pytest.approx(256 / 0.15, rel=1e-4)
    assert cuda['plain_eager_host_ms_per_step'] == 60.0  # median of the repeats' host time
    assert cuda['plain_eager_gpu_busy_ms_per_step'] == 42.0
    cpu = report.summarise('end_to_end', fake, None, 128, 256, on_cuda=False)
    assert cpu['end_to_end_host_ms_per_step'] == cpu['end_to_end_ms_per_step'] == 150.0
    result = {**cpu, **report.summarise('plain_eager', fake[:2], None, 128, 256, False),
              **report.absent('plain_graphed', 'no GPU')}
    assert report.ratios(result) == {'ratio_to_plain_eager': round(
        result['end_to_end_views_per_s'] / result['plain_eager_views_per_s'], 4),
        'ratio_to_plain_graphed': None}
    with pytest.raises(ValueError, match='no timed window'):
        report.summarise('plain_eager', [], None, 1, 1, False)
