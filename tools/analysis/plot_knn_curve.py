"""Plot kNN accuracy over epochs from mmengine's scalar logs.

``KNNEvalHook`` logs ``knn/top1`` and ``knn/top5`` with ``step`` = finished epochs into
``WORK_DIR/<timestamp>/vis_data/scalars.json`` (one JSON object per line; a resumed run
adds a new timestamp folder, later files win for the same epoch). One curve per work dir.

    python tools/analysis/plot_knn_curve.py work_dirs/isif_r18_fmnist [more work dirs] \
        [--key knn/top1] [--out knn_curve.png] [--table 4 8 12]

``--table`` also prints a markdown table of the value at those epochs, one column per work
dir (methods compared at equal epochs; ``—`` where a run has no evaluation then).
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import Dict, List


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='kNN accuracy over epochs')
    parser.add_argument('work_dirs', nargs='+', help='training work dirs (or scalars.json)')
    parser.add_argument('--key', default='knn/top1', help='logged scalar to plot')
    parser.add_argument('--out', help='PNG path (default: <first work dir>/knn_curve.png)')
    parser.add_argument('--title', default=None)
    parser.add_argument('--table', nargs='+', type=int, metavar='EPOCH',
                        help='print a markdown table of the value at these epochs')
    return parser.parse_args()


def read_curve(work_dir: str, key: str) -> Dict[int, float]:
    """``{epoch: value}`` of ``key`` from every scalars.json under ``work_dir``."""
    if osp.isfile(work_dir):
        files = [work_dir]
    else:
        files = sorted(glob.glob(osp.join(work_dir, '**', 'vis_data', 'scalars.json'),
                                 recursive=True))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir} (is '
                                "vis_backends=[dict(type='LocalVisBackend')] set?)")
    curve: Dict[int, float] = {}
    for path in files:  # timestamp folders sort chronologically
        with open(path) as f:
            for num, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f'{path}:{num}: not JSON ({e})') from e
                if key in record:
                    curve[int(record['step'])] = float(record[key])
    if not curve:
        raise ValueError(f'no {key!r} scalar in {files} (was KNNEvalHook enabled?)')
    return dict(sorted(curve.items()))


def plot(curves: Dict[str, Dict[int, float]], key: str, out: str, title: str = None) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, curve in curves.items():
        epochs: List[int] = list(curve)
        ax.plot(epochs, [curve[e] for e in epochs], marker='o', markersize=3,
                label=f'{name} (last {curve[epochs[-1]]:.2f})')
    ax.set_xlabel('epoch')
    ax.set_ylabel(f'{key} (%)')
    ax.set_title(title or f'{key} over training')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def markdown_table(curves: Dict[str, Dict[int, float]], epochs: List[int]) -> str:
    """Rows = ``epochs``, columns = runs; ``—`` where a run was not evaluated then."""
    names = list(curves)
    lines = ['| epoch | ' + ' | '.join(names) + ' |', '|---' * (len(names) + 1) + '|']
    for epoch in epochs:
        cells = [f'{curves[n][epoch]:.2f}' if epoch in curves[n] else '—' for n in names]
        lines.append(f'| {epoch} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main() -> None:
    args = parse_args()
    curves = {}
    for work_dir in args.work_dirs:
        name = osp.basename(osp.normpath(work_dir))
        curves[name if name not in curves else work_dir] = read_curve(work_dir, args.key)
    first = args.work_dirs[0]
    out = args.out or osp.join(first if osp.isdir(first) else osp.dirname(first),
                               'knn_curve.png')
    plot(curves, args.key, out, args.title)
    for name, curve in curves.items():
        print(f'{name}: {len(curve)} evaluations, best {max(curve.values()):.2f} '
              f'at epoch {max(curve, key=curve.get)}')
    print(f'wrote {out}')
    if args.table:
        print(markdown_table(curves, args.table))
    sys.stdout.flush()


if __name__ == '__main__':
    main()
