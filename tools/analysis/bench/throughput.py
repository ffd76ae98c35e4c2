"""The throughput mode: the end-to-end Runner loop and the two plain baselines, in one
process, on the same batch size, precision and memory format (see benchmark.py)."""
import argparse
import contextlib
import tempfile
from typing import Dict, Optional

import torch

from .config import apply_env_cfg, load_cfg, sgd_kwargs
from .parts import PartTimer, clustering_parts, instrumented_pass, interclr_parts
from .plain import PlainLoop
from .report import absent, ratios, summarise
from .runner_loop import time_runner_loop
from .timing import device_name, gpu_busy_ms, time_windows


def _work_dir(path: Optional[str]):
    return contextlib.nullcontext(path) if path else tempfile.TemporaryDirectory(
        prefix='selfemb_benchmark_')


def _instrumented(args: argparse.Namespace, loop: PlainLoop, device: torch.device
                  ) -> Dict[str, object]:
    """``--parts`` (InterCLR) and the k-means share (CLD) from an instrumented pass."""
    timer = PartTimer(device)
    if args.parts:
        interclr_parts(loop.model, timer)
    clusters = clustering_parts(loop.model, timer)
    if not (args.parts or clusters):
        return {}
    step_s, parts = instrumented_pass(loop.eager_step, timer, args.warmup, args.iters, device)
    out: Dict[str, object] = {}
    kmeans = parts.pop('kmeans', None)
    if args.parts:
        out.update(step_s=round(step_s, 4), parts_s={k: round(v, 6) for k, v in parts.items()},
                   parts_share=round(sum(parts.values()) / step_s, 4))
    if kmeans is not None:
        out.update(kmeans_ms=round(1000 * kmeans, 2), kmeans_share=round(kmeans / step_s, 4))
    return out


def throughput(args: argparse.Namespace) -> Dict[str, object]:
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    cfg = load_cfg(args.config, args.cfg_options, args.amp, args.channels_last)
    env = apply_env_cfg(cfg)  # the Runner applies it too; the plain loops run after it
    on_cuda = device.type == 'cuda'
    with _work_dir(args.work_dir) as work_dir:
        runner = time_runner_loop(cfg, work_dir, args.warmup, args.iters, args.repeats,
                                  args.profile_steps, device)
    model = runner.model
    with torch.no_grad():
        batch = model.data_preprocessor(runner.batch, True)
    images = int(cfg.train_dataloader.batch_size)
    views = int(sum(v.size(0) for v in batch['inputs']))
    result: Dict[str, object] = dict(
        config=args.config, device=device_name(device), torch=torch.__version__,
        images_per_step=images, views_per_step=views, amp=args.amp,
        channels_last=args.channels_last, warmup=args.warmup, iters=args.iters,
        repeats=args.repeats, profile_steps=args.profile_steps if on_cuda else 0, **env)
    result.update(summarise('end_to_end', runner.windows, runner.gpu_busy_ms, images, views,
                            on_cuda))
    result.update(runner.info, end_to_end_work_dir=args.work_dir)  # None: a removed temp dir

    loop = PlainLoop(model, batch, sgd_kwargs(cfg), device, args.amp)
    windows = time_windows(loop.eager_step, args.warmup, args.iters, args.repeats, device)
    busy = gpu_busy_ms(loop.eager_step, args.profile_steps, device)
    result.update(summarise('plain_eager', windows, busy, images, views, on_cuda))
    instrumented = _instrumented(args, loop, device)

    if not on_cuda:
        result.update(absent('plain_graphed', f'CUDA graphs need a CUDA device; this run is '
                                              f'on {device.type}'))
    else:
        try:
            replay, _ = loop.capture()
        except Exception as error:  # a step that cannot be captured: say why, keep the rest
            first = (str(error).splitlines() or [''])[0][:300]
            reason = f'capture failed: {type(error).__name__}: {first}'
            result.update(absent('plain_graphed', reason))
        else:
            windows = time_windows(replay, args.warmup, args.iters, args.repeats, device)
            busy = gpu_busy_ms(replay, args.profile_steps, device)
            result.update(summarise('plain_graphed', windows, busy, images, views, on_cuda))
    result.update(ratios(result))
    result.update(instrumented)
    return result
