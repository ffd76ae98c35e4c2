"""Cost of UIC's label bookkeeping relative to a training step (single process).

    python tools/analysis/benchmark_uic.py [--batch 128] [--steps 3] [--device cpu|cuda] [--gloo 2]

Per iteration: ``memory.targets(idx)`` + ``memory.record(idx, argmax(logits))`` for a
batch (the all-gather is a no-op in one process), against one forward/backward/SGD step
of ``configs/uic/r18_fmnist.py``'s model on 32x32 inputs. Per epoch: the relabel of
``UICLabelHook`` (predictions -> labels, empty classes split) for N = 60,000, K = 100 and
N = 1,281,167, K = 3000, both for typical predictions and for the worst case (all
predictions in one class: K - 1 splits), the two NMIs, and one epoch of
``ClassBalancedSampler`` indices. ``--gloo W`` also times ``record`` (all-gather
included) in W CPU processes joined by gloo. The last line is JSON.
"""
import argparse
import datetime
import json
import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.registry import init_default_scope
from sklearn.metrics import normalized_mutual_info_score

from selfemb.datasets.samplers import balanced_indices
from selfemb.engine.hooks.uic_label_hook import next_labels
from selfemb.models.memories import PseudoLabelMemory
from selfemb.registry import MODELS


def timed(fn, repeat: int = 1) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def step_and_bookkeeping(batch: int, steps: int, device: str) -> dict:
    init_default_scope('selfemb')
    model = MODELS.build(dict(
        type='UIC', num_classes=100,
        backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, )),
        head=dict(type='UICHead', in_channels=512),
        data_preprocessor=dict(mean=[0, 0, 0], std=[1, 1, 1], num_views=1))).to(device)
    model.memory.setup(60000, seed=0)
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    images = torch.rand(batch, 3, 32, 32, device=device)
    idx = torch.randint(0, 60000, (batch, ), device=device)
    logits = torch.randn(batch, 100, device=device)

    def step():
        loss = model.head.loss(model.logits(images), model.memory.targets(idx))
        optim.zero_grad()
        loss.backward()
        optim.step()
        float(loss.detach())

    def bookkeeping():
        model.memory.targets(idx)
        model.memory.record(idx, logits.argmax(1))
        if device == 'cuda':
            torch.cuda.synchronize()
    return dict(step_s=timed(step, steps), bookkeeping_s=timed(bookkeeping, 200))


def per_epoch(n: int, k: int) -> dict:
    gen = torch.Generator().manual_seed(0)
    memory = PseudoLabelMemory(num_classes=k)
    memory.setup(n, seed=0)
    typical = torch.randint(0, k, (n, ), generator=gen)
    typical[torch.rand(n, generator=gen) < 0.3] = -1  # not drawn this epoch
    collapsed = torch.zeros(n, dtype=torch.long)
    labels, _ = next_labels(memory.labels, typical, k)
    gt = torch.randint(0, 1000, (n, ), generator=gen).numpy()
    return dict(
        n=n, k=k,
        relabel_s=timed(lambda: next_labels(memory.labels, typical, k)),
        relabel_collapsed_s=timed(lambda: next_labels(memory.labels, collapsed, k)),
        nmi_pair_s=timed(lambda: normalized_mutual_info_score(labels.numpy(), gt)),
        sampler_epoch_s=timed(lambda: balanced_indices(labels, n, torch.Generator())))


def _gloo_record(rank: int, world: int, port: int, batch: int, out) -> None:
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=120))
    torch.set_num_threads(1)
    memory = PseudoLabelMemory(num_classes=100)
    memory.setup(60000, seed=0)
    idx = torch.randint(0, 60000, (batch, ))
    preds = torch.randint(0, 100, (batch, ))
    seconds = timed(lambda: memory.record(idx, preds), 200)
    if rank == 0:
        out.put(seconds)
    dist.barrier()
    dist.destroy_process_group()


def gloo_record(world: int, batch: int) -> float:
    """Seconds per ``record`` call (all-gather over ``world`` gloo processes + write)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    ctx = mp.get_context('spawn')
    out = ctx.SimpleQueue()
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    mp.start_processes(_gloo_record, args=(world, port, batch, out), nprocs=world,
                       start_method='spawn')
    return out.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--gloo', type=int, metavar='W', help='also time record in W gloo '
                        'processes')
    args = parser.parse_args()
    record = dict(device=args.device, batch=args.batch,
                  threads=torch.get_num_threads(), **step_and_bookkeeping(
                      args.batch, args.steps, args.device))
    record['bookkeeping_fraction'] = record['bookkeeping_s'] / record['step_s']
    record['epochs'] = [per_epoch(60000, 100), per_epoch(1281167, 3000)]
    for e, iters in zip(record['epochs'], (60000 // args.batch, 1281167 // args.batch)):
        e['relabel_vs_epoch_of_steps'] = e['relabel_s'] / (iters * record['step_s'])
    print(f"step {record['step_s'] * 1e3:.1f} ms, bookkeeping {record['bookkeeping_s'] * 1e6:.1f} "
          f"us ({100 * record['bookkeeping_fraction']:.3f} % of a step)")
    if args.gloo:
        record['gloo_world'] = args.gloo
        record['gloo_record_s'] = gloo_record(args.gloo, args.batch)
        print(f"record with the all-gather over {args.gloo} gloo processes: "
              f"{record['gloo_record_s'] * 1e6:.1f} us "
              f"({100 * record['gloo_record_s'] / record['step_s']:.3f} % of a step)")
    for e in record['epochs']:
        print(f"N={e['n']} K={e['k']}: relabel {e['relabel_s']:.3f} s (collapsed "
              f"{e['relabel_collapsed_s']:.3f} s), one NMI {e['nmi_pair_s']:.3f} s, sampler "
              f"{e['sampler_epoch_s']:.3f} s")
    print(json.dumps(record))


if __name__ == '__main__':
    main()
