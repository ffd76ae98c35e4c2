"""Input pipelines of image-file configs side by side: data-only, model-only, end-to-end.

    python tools/benchmark.py --input configs/cld/r50_in100.py configs/cld/r50_in100_gpu.py \
        --data-root data/synthetic_in [--workers 8] [--iters 30] [--warmup 5] [--repeats 3] \
        [--amp] [--channels-last]

For each config (same process, same device), on the training images under
``--data-root`` (e.g. a tree written by ``tools/dataset_converters/make_synthetic_jpegs.py``):

- **data-only**: the train dataloader (``--workers`` processes) and the data
  preprocessor in training mode, no model: everything that turns files into the views
  a step consumes (CPU pipeline: decode + augment in the workers; GPU path: read bytes
  in the workers, decode + augment on the device). Also per worker;
- **model-only**: forward, backward and optimizer step on one preprocessed batch, reused;
- **end-to-end**: ``model.train_step`` on the loader's batches.

Rates are two-view **images/s** (one image = all its views; views/s = images/s x views),
the median of ``--repeats`` timed windows of ``--iters`` steps after ``--warmup`` steps
(min and max beside it). ``end_to_end / model_only`` near 1 means the input keeps up. The
last line is JSON.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List

import torch
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

from selfemb.apis import build_model_from_cfg
from selfemb.engine.config_check import check_cfg_options

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the ``bench`` package beside it
from bench.config import apply_amp  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--input', nargs='+', required=True, metavar='CONFIG',
                        help='image-file configs to compare (e.g. the CPU and GPU variants)')
    parser.add_argument('--data-root', help='image tree replacing the train dataset root')
    parser.add_argument('--workers', type=int, help='dataloader workers (default: config)')
    parser.add_argument('--batch-size', type=int, help='per-process batch (default: config)')
    parser.add_argument('--iters', type=int, default=30, help='steps per timed window')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=3, help='timed windows (median kept)')
    parser.add_argument('--amp', action='store_true', help='bf16 autocast (GPU)')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='applied to every config')
    return parser.parse_args(argv)


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def forever(loader) -> Iterator:
    while True:
        yield from loader


def windows(step: Callable[[], None], args, device: torch.device) -> List[float]:
    """Seconds per step of each of ``args.repeats`` windows of ``args.iters`` steps."""
    for _ in range(args.warmup):
        step()
    seconds = []
    for _ in range(args.repeats):
        sync(device)
        start = time.perf_counter()
        for _ in range(args.iters):
            step()
        sync(device)
        seconds.append((time.perf_counter() - start) / args.iters)
    return seconds


def rates(seconds: List[float], images: int) -> Dict[str, float]:
    per_s = sorted(images / s for s in seconds)
    return dict(median=round(statistics.median(per_s), 1), min=round(per_s[0], 1),
                max=round(per_s[-1], 1))


def load_cfg(path: str, args) -> Config:
    cfg = Config.fromfile(path)
    if args.cfg_options:
        check_cfg_options(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
    loader = cfg.train_dataloader
    if args.data_root:
        loader.dataset.data_root = args.data_root
    if args.workers is not None:
        loader.num_workers = args.workers
        loader.persistent_workers = args.workers > 0
    else:
        loader.persistent_workers = loader.num_workers > 0
    if args.batch_size:
        loader.batch_size = args.batch_size
    if args.channels_last:
        cfg.data_preprocessor = dict(cfg.get('data_preprocessor') or {}, channels_last=True)
    if args.amp:
        apply_amp(cfg)  # what --amp means for tools/train.py and the throughput mode
    return cfg


def measure(path: str, args, device: torch.device) -> dict:
    cfg = load_cfg(path, args)
    if cfg.get('env_cfg', {}).get('cudnn_benchmark'):
        torch.backends.cudnn.benchmark = True
    model = build_model_from_cfg(cfg).to(device)
    optim_wrapper = build_optim_wrapper(model, dict(cfg.optim_wrapper))
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    for memory in model.memories():
        memory.setup(len(loader.dataset), seed=0)
    model.train()
    batch_size, views = cfg.train_dataloader.batch_size, model.data_preprocessor.num_views
    batches = forever(loader)

    def data_only() -> None:
        model.data_preprocessor(next(batches), True)

    fixed = model.data_preprocessor(next(batches), True)

    def model_only() -> None:
        with optim_wrapper.optim_context(model):
            losses = model(**fixed, mode='loss')
        loss, _ = model.parse_losses(losses)
        optim_wrapper.update_params(loss)

    def end_to_end() -> None:
        model.train_step(next(batches), optim_wrapper)

    data = rates(windows(data_only, args, device), batch_size)
    workers = loader.num_workers
    result = dict(
        config=path, preprocessor=type(model.data_preprocessor).__name__,
        decoder=getattr(getattr(model.data_preprocessor, '_decoder', None), 'name', 'cpu workers'),
        workers=workers, batch_size=batch_size, views=views,
        data_only_img_s=data,
        data_only_img_s_per_worker=round(data['median'] / max(workers, 1), 1),
        model_only_img_s=rates(windows(model_only, args, device), batch_size),
        end_to_end_img_s=rates(windows(end_to_end, args, device), batch_size))
    result['end_to_end_over_model_only'] = round(
        result['end_to_end_img_s']['median'] / result['model_only_img_s']['median'], 3)
    return result


def main(argv=None) -> None:
    args = parse_args(argv)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else \
        f'cpu ({torch.get_num_threads()} threads)'
    results = [measure(path, args, device) for path in args.input]
    print(f'{name}; two-view images/s, median [min, max] of {args.repeats} x {args.iters} '
          'steps')
    print(f"{'config':40s} {'decoder':12s} {'workers':>7s} {'data-only':>22s} "
          f"{'per worker':>10s} {'model-only':>22s} {'end-to-end':>22s} {'e2e/model':>9s}")

    def cell(r: dict) -> str:
        return f"{r['median']:.1f} [{r['min']:.1f}, {r['max']:.1f}]"

    for r in results:
        print(f"{r['config']:40s} {r['decoder']:12s} {r['workers']:7d} "
              f"{cell(r['data_only_img_s']):>22s} {r['data_only_img_s_per_worker']:10.1f} "
              f"{cell(r['model_only_img_s']):>22s} {cell(r['end_to_end_img_s']):>22s} "
              f"{r['end_to_end_over_model_only']:9.3f}")
    print(json.dumps(dict(device=name, amp=args.amp, channels_last=args.channels_last,
                          data_root=args.data_root, results=results)))


if __name__ == '__main__':
    main()
