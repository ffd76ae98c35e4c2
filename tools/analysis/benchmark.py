"""Training throughput of a config: end-to-end (data included) vs model-only, in one run.

    python tools/analysis/benchmark.py CONFIG [--amp] [--channels-last] [--iters 50] [--warmup 10]

End-to-end: the config's train dataloader -> data preprocessor (augmentations) ->
forward -> backward -> optimizer step, with the loss read back every step as the
logger does. Model-only: the same steps on one already-preprocessed batch, reused.
Both count images per second (one image = all its views). The last line is JSON.
With ``--parts`` (InterCLR configs) the model-only steps also time, per iteration, the
relabelling of the batch's bank rows, the centroid update (small-cluster refill included)
and the positive / negative sampling, and report their share of the whole step.

    python tools/analysis/benchmark.py --discovery N [--chunk-size C] [--precision fp16]
        [--no-fused]

AND's neighbourhood discovery on a synthetic N x 128 L2-normalised bank on the available
device (entropy + 1 nearest neighbour of every row, anchors at select_rate 0.25): prints
the seconds it takes, in total and per part (after one untimed warm-up on a 4096-row
slice); the last line is JSON.

For a model with batch clustering (CLD's ``CLDHead.cluster``), the throughput mode also
times every clustering call during the model-only steps and reports ``kmeans_ms`` per
iteration and ``kmeans_share``, its fraction of the model-only step.
"""
import argparse
import json
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

from selfemb.apis import build_model_from_cfg
from selfemb.engine.config_check import check_cfg_options
from selfemb.engine.hooks.neighbourhood_discovery_hook import PRECISIONS
from selfemb.engine.optim_wrappers import bf16_wrapper_type
from selfemb.models.utils import nearest_neighbours, num_anchors, select_anchors, softmax_entropy


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?', help='config (throughput mode)')
    parser.add_argument('--discovery', type=int, metavar='N',
                        help='time AND neighbourhood discovery on an N x 128 bank instead')
    parser.add_argument('--chunk-size', type=int, help='discovery rows per block (default: auto)')
    parser.add_argument('--precision', choices=sorted(PRECISIONS), default='fp32',
                        help='discovery similarity precision (fp16 is the fast GPU choice)')
    parser.add_argument('--bf16', action='store_true', help='same as --precision bf16')
    parser.add_argument('--no-fused', action='store_true',
                        help='discovery entropy by blocked matmul, not the fused kernel')
    parser.add_argument('--amp', action='store_true', help='bf16 autocast')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--parts', action='store_true',
                        help='InterCLR: time relabelling, centroid update and sampling too')
    parser.add_argument('--iters', type=int, default=50, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def timed(step, iters: int, warmup: int, device: torch.device) -> float:
    """Seconds per iteration of ``step(i)`` after ``warmup`` untimed calls."""
    for i in range(warmup):
        step(i)
    sync(device)
    start = time.perf_counter()
    for i in range(iters):
        step(warmup + i)
    sync(device)
    return (time.perf_counter() - start) / iters


class PartTimer:
    """Seconds spent in wrapped functions, per part name (device-synchronised); a wrapped
    call made inside another counts only in the outer one."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.seconds, self.busy = device, {}, False

    def wrap(self, owner, attr: str, part: str) -> None:
        fn = getattr(owner, attr)

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
        setattr(owner, attr, timed_fn)


def interclr_parts(model, device: torch.device) -> PartTimer:
    """Time InterCLR's online k-means and sampling inside the model's steps."""
    from selfemb.models.algorithms import interclr
    if not hasattr(model.memory, 'relabel'):
        raise SystemExit('--parts needs an InterCLR config (a model with an ODCMemory)')
    timer = PartTimer(device)
    timer.wrap(model.memory, 'relabel', 'relabel')
    timer.wrap(model.memory, 'update_centroids', 'centroids')
    timer.wrap(model.memory, 'refill_clusters', 'centroids')
    for name in ('label_segments', 'sample_positives', 'sample_negatives'):
        timer.wrap(interclr, name, 'sampling')
    return timer


def init_clusters(model, seed: int = 0) -> None:
    """Cluster each ODCMemory's initial bank once (as ODCInitHook(dataloader=None))."""
    from selfemb.evaluation.kmeans import faiss_kmeans
    for memory in model.memories():
        if hasattr(memory, 'init_clusters'):
            labels = faiss_kmeans(memory.current_bank().cpu().numpy(), memory.num_clusters,
                                  seed=seed)
            memory.init_clusters(torch.from_numpy(labels).to(memory.bank.device))


def clustering_timer(model: torch.nn.Module, device: torch.device) -> list:
    """Wrap the ``cluster`` method of every head that has one (CLD) so that its wall time
    (synchronised) accumulates in the returned one-element list; ``[]`` if none has."""
    heads = [m for m in model.modules() if callable(getattr(m, 'cluster', None))]
    if not heads:
        return []
    spent = [0.0]
    for head in heads:
        def timed_cluster(*args, _inner=head.cluster, **kwargs):
            sync(device)
            start = time.perf_counter()
            out = _inner(*args, **kwargs)
            sync(device)
            spent[0] += time.perf_counter() - start
            return out
        head.cluster = timed_cluster
    return spent


def forever(loader):
    """Batches of ``loader`` epoch after epoch (the data is really reloaded)."""
    while True:
        yield from loader


def discovery(args: argparse.Namespace) -> None:
    """Time the entropy, the neighbours and anchor selection on a random N x 128 bank."""
    if args.discovery < 2:
        raise SystemExit(f'--discovery needs N >= 2 bank rows, got {args.discovery}')
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    n = args.discovery
    gen = torch.Generator(device=device).manual_seed(0)
    bank = torch.nn.functional.normalize(
        torch.randn(n, 128, device=device, generator=gen), dim=1)
    dtype = PRECISIONS['bf16' if args.bf16 else args.precision]
    times = {}

    def clock(name: str, fn):
        sync(device)
        start = time.perf_counter()
        out = fn()
        sync(device)
        times[name] = times.get(name, 0.0) + time.perf_counter() - start
        return out

    def run(rows: torch.Tensor):
        entropy, method = clock('entropy', lambda: softmax_entropy(
            rows, 0.1, args.chunk_size, dtype, fused=not args.no_fused))
        clock('neighbours', lambda: nearest_neighbours(rows, 1, args.chunk_size, dtype))
        anchors = clock('select', lambda: select_anchors(entropy, num_anchors(len(rows), 1, 0.25)))
        return anchors, method

    run(bank[:min(n, 4096)])  # warm-up: kernels, allocator
    times.clear()
    anchors, method = run(bank)
    seconds = sum(times.values())
    result = dict(
        discovery=n, dim=128, k=1, select_rate=0.25, chunk_size=args.chunk_size or 'auto',
        dtype=str(dtype).replace('torch.', ''), entropy_method=method,
        num_anchors=int(anchors.sum()),
        device=torch.cuda.get_device_name(device) if device.type == 'cuda'
        else f'cpu ({torch.get_num_threads()} threads)', seconds=round(seconds, 3),
        **{f'{name}_seconds': round(t, 3) for name, t in times.items()})
    print(f"{result['device']}: discovery on {n} x 128 took {result['seconds']} s "
          f"(entropy {method} {times['entropy']:.2f} s, neighbours {times['neighbours']:.2f} s)")
    print(json.dumps(result))


def main() -> None:
    args = parse_args()
    if args.discovery is not None:
        return discovery(args)
    if args.config is None:
        raise SystemExit('give a CONFIG (throughput) or --discovery N')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        check_cfg_options(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if args.channels_last:
        cfg.data_preprocessor = dict(cfg.get('data_preprocessor') or {}, channels_last=True)
    model = build_model_from_cfg(cfg).to(device)
    optim_cfg = dict(cfg.optim_wrapper)
    if args.amp:
        if device.type != 'cuda':
            raise SystemExit('--amp (bf16 autocast through Bf16OptimWrapper) needs a GPU')
        optim_cfg.update(type=bf16_wrapper_type(optim_cfg.get('type', 'OptimWrapper')))
    optim_wrapper = build_optim_wrapper(model, optim_cfg)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    for memory in model.memories():
        memory.setup(len(loader.dataset), seed=0)
    init_clusters(model)
    timer = interclr_parts(model, device) if args.parts else None
    model.train()
    batch_size = cfg.train_dataloader.batch_size
    batches = forever(loader)

    def end_to_end(_: int) -> None:
        log_vars = model.train_step(next(batches), optim_wrapper)
        float(log_vars['loss'])

    fixed = model.data_preprocessor(next(batches), True)
    kmeans = clustering_timer(model, device)

    def model_only(i: int) -> None:
        if kmeans and i == args.warmup:
            kmeans[0] = 0.0  # count the timed iterations only
        with optim_wrapper.optim_context(model):
            losses = model(**fixed, mode='loss')
        loss, log_vars = model.parse_losses(losses)
        optim_wrapper.update_params(loss)
        float(log_vars['loss'])

    def model_only_parts(i: int) -> None:
        if i == args.warmup:  # count the timed iterations only
            timer.seconds.clear()
        model_only(i)

    t_model = timed(model_only_parts if timer else model_only, args.iters, args.warmup, device)
    parts = {k: v / args.iters for k, v in timer.seconds.items()} if timer else None
    kmeans_spent = kmeans[0] if kmeans else 0.0  # before end-to-end steps add to it
    t_e2e = timed(end_to_end, args.iters, args.warmup, device)
    result = dict(
        config=args.config, device=torch.cuda.get_device_name(device)
        if device.type == 'cuda' else f'cpu ({torch.get_num_threads()} threads)',
        batch_size=batch_size, amp=args.amp, channels_last=args.channels_last,
        end_to_end_img_s=round(batch_size / t_e2e, 1),
        model_only_img_s=round(batch_size / t_model, 1),
        ratio=round(t_model / t_e2e, 3))
    if parts is not None:
        result.update(step_s=round(t_model, 4), parts_s={k: round(v, 6) for k, v in parts.items()},
                      parts_share=round(sum(parts.values()) / t_model, 4))
        print(f"model-only step {t_model:.3f} s; online k-means + sampling "
              f"{sum(parts.values()):.4f} s = {100 * result['parts_share']:.2f} % "
              f"({', '.join(f'{k} {v:.4f} s' for k, v in parts.items())})")
    if kmeans:
        result.update(kmeans_ms=round(1000 * kmeans_spent / args.iters, 2),
                      kmeans_share=round(kmeans_spent / args.iters / t_model, 4))
        print(f"k-means {result['kmeans_ms']} ms per iteration, "
              f"{100 * result['kmeans_share']:.2f} % of the model-only step")
    print(f"{result['device']}: end-to-end {result['end_to_end_img_s']} img/s, "
          f"model-only {result['model_only_img_s']} img/s, ratio {result['ratio']}")
    print(json.dumps(result))


if __name__ == '__main__':
    main()
