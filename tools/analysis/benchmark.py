"""Training throughput of a config, end to end through its Runner, against two plain
PyTorch baselines in the same process; or the time of AND's neighbourhood discovery.

    python tools/analysis/benchmark.py CONFIG [--amp] [--channels-last] [--iters 50]
        [--warmup 10] [--repeats 3] [--profile-steps 5] [--parts] [--work-dir DIR]
        [--out FILE] [--cfg-options ...]

Three variants, each timed in ``--repeats`` windows of ``--iters`` steps after
``--warmup`` untimed ones, the device synchronised only at window boundaries:

* ``end_to_end``: the config's Runner (``build_runner``, as tools/train.py) training as
  configured: dataloader, data preprocessor, forward, backward, optimizer wrapper, every
  hook (logger, schedulers, memories, method hooks), ``env_cfg`` applied by the Runner.
  Checkpoint saving and the kNN monitor are pushed beyond the timed window (the output
  names them). Logs go to ``--work-dir`` (default: a temporary folder, removed).
* ``plain_eager``: a hand-written loop over the same model on one fixed pre-processed
  batch: its loss, backward, ``torch.optim.SGD`` (fused on CUDA) with the config's
  settings, no host synchronisation; the same precision and memory format.
* ``plain_graphed`` (CUDA only): that step captured once as a CUDA graph and replayed.

For each: ms per step (median of the repeats, min, max, every repeat), images (= pairs)
and views per second, GPU-busy ms per step (sum of device kernel time over
``--profile-steps`` profiled steps; ``None`` on CPU) and host ms per step (Python time
inside the steps, no sync; on CPU the wall time); then ``ratio_to_plain_eager`` and
``ratio_to_plain_graphed``, end-to-end views/s over the baseline's. A table, then the
JSON record as the last line (also written to ``--out``). ``--parts`` (InterCLR) adds the
time of relabelling, centroid update and sampling per step; a model with batch
clustering (CLD) reports ``kmeans_ms`` and ``kmeans_share``; both from an extra
instrumented pass of the plain eager step (synchronised around each timed call).

    python tools/analysis/benchmark.py --discovery N [--chunk-size C]
        [--precision fp32|fp16|bf16] [--no-fused] [--check] [--out FILE]

AND's neighbourhood discovery on a synthetic N x 128 L2-normalised bank (entropy + 1
nearest other row of every row, anchors at select_rate 0.25), in total and per part,
after an untimed warm-up on a 4096-row slice; ``--check`` adds the fp32 reference on the
same bank and lists the anchors and neighbours that differ, each marked as a tie within
the precision's rounding or not.

    python tools/analysis/benchmark.py --input CONFIG [CONFIG ...] --data-root DIR ...

Input paths of image-file configs side by side (CPU workers vs GPU decoding): data-only,
model-only and end-to-end images/s; see ``benchmark_input.py`` beside this file.
"""
import argparse
import json
import sys
from pathlib import Path

from mmengine.config import DictAction

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the ``bench`` package beside it
from bench.discovery import run_discovery, summary_lines  # noqa: E402
from bench.report import table  # noqa: E402
from bench.throughput import throughput  # noqa: E402

from selfemb.engine.hooks.neighbourhood_discovery_hook import PRECISIONS  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?', help='config (throughput mode)')
    parser.add_argument('--discovery', type=int, metavar='N',
                        help='time AND neighbourhood discovery on an N x 128 bank instead')
    parser.add_argument('--chunk-size', type=int, help='discovery rows per block (default: auto)')
    parser.add_argument('--precision', choices=sorted(PRECISIONS), default='fp32',
                        help='discovery similarity precision')
    parser.add_argument('--bf16', action='store_true', help='same as --precision bf16')
    parser.add_argument('--no-fused', action='store_true',
                        help='discovery entropy by blocked matmul, not the fused kernel')
    parser.add_argument('--check', action='store_true',
                        help='discovery: compare with the fp32 reference on the same bank')
    parser.add_argument('--list', type=int, default=20, metavar='K',
                        help='--check: differences listed per kind (default 20)')
    parser.add_argument('--amp', action='store_true', help='bf16 autocast')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--parts', action='store_true',
                        help='InterCLR: time relabelling, centroid update and sampling too')
    parser.add_argument('--iters', type=int, default=50, help='timed steps per repeat')
    parser.add_argument('--warmup', type=int, default=10, help='untimed steps first')
    parser.add_argument('--repeats', type=int, default=3, help='timed windows per variant')
    parser.add_argument('--profile-steps', type=int, default=5,
                        help='steps profiled for the GPU-busy time (CUDA)')
    parser.add_argument('--work-dir', help='where the Runner writes its logs (default: a '
                        'temporary folder, removed afterwards)')
    parser.add_argument('--out', help='also write the JSON record to this file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main() -> None:
    if '--input' in sys.argv[1:]:  # image-file input paths: benchmark_input.py beside this
        import benchmark_input
        return benchmark_input.main(sys.argv[1:])
    args = parse_args()
    if args.discovery is not None:
        dtype = PRECISIONS['bf16' if args.bf16 else args.precision]
        result = run_discovery(args.discovery, dtype, args.chunk_size, not args.no_fused,
                               args.check, args.list)
        lines = summary_lines(result)
    elif args.config is None:
        raise SystemExit('give a CONFIG (throughput) or --discovery N')
    else:
        if min(args.iters, args.repeats) < 1 or args.warmup < 1 or args.profile_steps < 0:
            raise SystemExit(f'need --iters >= 1, --repeats >= 1, --warmup >= 1 and '
                             f'--profile-steps >= 0; got {args.iters}, {args.repeats}, '
                             f'{args.warmup}, {args.profile_steps}')
        result = throughput(args)
        lines = table(result)
    record = json.dumps(result)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(record + '\n')
    print('\n'.join(lines))
    print(record)


if __name__ == '__main__':
    main()
