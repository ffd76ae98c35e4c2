"""The one table of scripts/reproduce_fmnist.sh: every run's weighted-kNN top-1 per epoch,
the papers' memory-bank protocol where it was logged, seconds per epoch, the device, and
the ISIF downstream figures, from one or more work roots (e.g. the two device calls').

    python tools/analysis/fmnist_table.py ROOT [ROOT ...] [--out PREFIX]

A run is a folder ``ROOT/<run>/`` holding mmengine's ``<timestamp>/vis_data/scalars.json``
(a resumed run adds a timestamp folder; a later file wins for the same epoch or
iteration) and, written by the script, ``run.json`` (config, device, torch, date, CUDA
graph). Read from the scalars:

* ``knn/top1`` (recomputed references) and ``knn_bank/top1`` (the bank protocol) per
  epoch (epoch 0, if logged, is the untrained network: not counted as the best); the
  best epoch and last value of each;
* training seconds per epoch: the mean logged iteration ``time`` of the epoch (mmengine's
  IterTimerHook, averaged over the logger's window) times the iterations per epoch, read
  off the global ``iter`` of an evaluated epoch's last record (the script logs each
  epoch's last iteration: ``default_hooks.logger.ignore_last=False``; epochs of equal
  length); evaluation seconds per epoch: the sum of the monitors' ``<prefix>/seconds``.

``ROOT/downstream/`` (the script's ISIF stage) adds the linear probe (last
``accuracy/top1`` of ``linear_isif`` / ``linear_untrained``), Recall@K / NMI
(``recall_isif.json`` / ``recall_untrained.json``) and the unseen-class run's kNN.
Writes ``PREFIX.md`` and ``PREFIX.json`` (default ``<first ROOT>/table``) and prints the
markdown.
"""
import argparse
import glob
import json
import os.path as osp
from collections import Counter
from datetime import date
from typing import Dict, List, Optional

ORDER = ('isif', 'npid', 'and', 'super_and', 'cld', 'cld_release', 'cldm', 'interclr', 'uic')
MONITORS = ('knn', 'knn_bank')
DOWNSTREAM = 'downstream'


def read_records(work_dir: str) -> List[dict]:
    """Every record of every ``*/vis_data/scalars.json`` under ``work_dir``, oldest first."""
    records = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for num, line in enumerate(f, 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise ValueError(f'{path}:{num}: not JSON ({e})') from e
    return records


def per_epoch(records: List[dict], key: str) -> Dict[int, float]:
    """``{step: value}`` of ``key`` (the kNN monitors log step = finished epochs)."""
    return dict(sorted((int(r['step']), float(r[key])) for r in records if key in r))


def iters_per_epoch(train: Dict[int, dict], evaluated: List[int]) -> Optional[int]:
    """The global iteration of an evaluated epoch's last record over the epoch number
    (the most common such value); None if no evaluated epoch divides evenly."""
    counts = Counter()
    for epoch in evaluated:
        last = max((it for it, r in train.items() if r['epoch'] == epoch), default=None)
        if last is not None and epoch > 0 and last % epoch == 0:
            counts[last // epoch] += 1
    return counts.most_common(1)[0][0] if counts else None


def summarise_run(work_dir: str) -> dict:
    """kNN curves, bank best / last and seconds per epoch of one run."""
    records = read_records(work_dir)
    if not records:
        raise FileNotFoundError(f'no */vis_data/scalars.json records under {work_dir}')
    curves = {m: per_epoch(records, f'{m}/top1') for m in MONITORS}
    knn, bank = curves['knn'], curves['knn_bank']
    train = {int(r['iter']): r for r in records if 'time' in r and 'epoch' in r}
    ipe = iters_per_epoch(train, [e for e in knn if e > 0])
    train_s = {}
    for epoch in sorted({r['epoch'] for r in train.values()}):
        times = [r['time'] for r in train.values() if r['epoch'] == epoch]
        if ipe and epoch in knn:  # completed epochs only
            train_s[epoch] = sum(times) / len(times) * ipe
    eval_s: Dict[int, float] = {}
    for m in MONITORS:
        for epoch, seconds in per_epoch(records, f'{m}/seconds').items():
            if epoch > 0:
                eval_s[epoch] = eval_s.get(epoch, 0.0) + seconds

    def mean(values):
        values = list(values)
        return sum(values) / len(values) if values else None

    trained = {e: v for e, v in knn.items() if e > 0}  # epoch 0: the untrained network
    summary = dict(
        knn_top1=knn, knn_untrained=knn.get(0),
        knn_last=trained[max(trained)] if trained else None,
        knn_best=max(trained.values()) if trained else None,
        knn_best_epoch=max(trained, key=trained.get) if trained else None,
        epochs=max(trained) if trained else 0, iters_per_epoch=ipe,
        train_s_per_epoch=mean(train_s.values()), eval_s_per_epoch=mean(eval_s.values()))
    summary['wall_s_per_epoch'] = (
        None if summary['train_s_per_epoch'] is None
        else summary['train_s_per_epoch'] + (summary['eval_s_per_epoch'] or 0.0))
    if bank:
        best = max(bank, key=bank.get)
        summary.update(bank_top1=bank, bank_best=bank[best], bank_best_epoch=best,
                       bank_last=bank[max(bank)])
    info = osp.join(work_dir, 'run.json')
    if osp.isfile(info):
        with open(info) as f:
            summary['run'] = json.load(f)
    return summary


def last_value(work_dir: str, key: str) -> Optional[float]:
    values = [r[key] for r in read_records(work_dir) if key in r]
    return float(values[-1]) if values else None


def last_json_line(path: str) -> dict:
    with open(path) as f:
        lines = [line for line in f if line.strip()]
    if not lines:
        raise ValueError(f'{path} is empty')
    return json.loads(lines[-1])


def summarise_downstream(folder: str) -> dict:
    """Linear probe, Recall@K / NMI and unseen-run kNN of the trained and untrained ISIF."""
    result = {}
    for network in ('isif', 'untrained'):
        row = {}
        probe = osp.join(folder, f'linear_{network}')
        if osp.isdir(probe):
            row['linear_top1'] = last_value(probe, 'accuracy/top1')
        recall = osp.join(folder, f'recall_{network}.json')
        if osp.isfile(recall):
            row.update(last_json_line(recall))
        if row:
            result[network] = row
    unseen = osp.join(folder, 'unseen')
    if osp.isdir(unseen):
        result['unseen_seen_class_knn_top1'] = last_value(unseen, 'knn/top1')
    return result


def find_runs(roots: List[str]) -> Dict[str, str]:
    """``{run name: work dir}`` over the roots; a run in two roots is an error."""
    runs: Dict[str, str] = {}
    for root in roots:
        if not osp.isdir(root):
            raise FileNotFoundError(f'{root}: no such work root')
        for path in sorted(glob.glob(osp.join(root, '*', '*', 'vis_data', 'scalars.json'))):
            run_dir = osp.dirname(osp.dirname(osp.dirname(path)))
            name = osp.basename(run_dir)
            if name == DOWNSTREAM:
                continue
            if name in runs and runs[name] != run_dir:
                raise ValueError(f'run {name!r} is in two roots: {runs[name]} and {run_dir}; '
                                 'give each run once')
            runs[name] = run_dir
    order = {name: i for i, name in enumerate(ORDER)}
    return dict(sorted(runs.items(), key=lambda kv: (order.get(kv[0], len(ORDER)), kv[0])))


def fmt(value, digits: int = 2) -> str:
    return '—' if value is None else f'{value:.{digits}f}'


def epoch_table(curves: Dict[str, Dict[int, float]]) -> List[str]:
    names = list(curves)
    epochs = sorted({e for curve in curves.values() for e in curve})
    lines = ['| epoch | ' + ' | '.join(names) + ' |', '|---' * (len(names) + 1) + '|']
    for epoch in epochs:
        lines.append(f'| {epoch} | ' + ' | '.join(fmt(curves[n].get(epoch)) for n in names)
                     + ' |')
    return lines


def markdown(runs: Dict[str, dict], downstream: dict, devices: List[str]) -> str:
    lines = ['# Fashion-MNIST: weighted kNN top-1 (%)', '',
             f"Device: {'; '.join(devices) or 'not recorded'}. Table written "
             f'{date.today().isoformat()}.', '']
    if any(s.get('run', {}).get('quick') for s in runs.values()):
        lines += ['QUICK rehearsal (subsets, 2 epochs, small k): these numbers check the '
                  'script, they are not results.', '']
    lines += ['## kNN top-1 (%) per epoch, references recomputed (k 200, σ 0.1 at full size)',
              '']
    lines += epoch_table({n: s['knn_top1'] for n, s in runs.items()})
    banked = {n: s['bank_top1'] for n, s in runs.items() if 'bank_top1' in s}
    if banked:
        lines += ['', "## kNN top-1 (%) per epoch, the papers' memory-bank protocol", '']
        lines += epoch_table(banked)
    lines += ['', '## Per run', '',
              '| run | config | CUDA graph | epochs | last top-1 | best top-1 (epoch) | '
              'bank last | bank best (epoch) | train s/epoch | kNN s/epoch | '
              'wall s/epoch | device |',
              '|---' * 12 + '|']
    for name, s in runs.items():
        run = s.get('run', {})
        best = (f"{fmt(s['knn_best'])} ({s['knn_best_epoch']})"
                if s['knn_best'] is not None else '—')
        bank_best = (f"{fmt(s['bank_best'])} ({s['bank_best_epoch']})"
                     if 'bank_best' in s else '—')
        graph = {True: 'yes', False: 'no'}.get(run.get('cuda_graph'), '—')
        if graph == 'yes' and run.get('device') == 'CPU':  # nothing to capture on a CPU
            graph = 'static step, uncaptured (CPU)'
        lines.append(f"| {name} | {run.get('config', '—')} | {graph} | {s['epochs']} | "
                     f"{fmt(s['knn_last'])} | {best} | {fmt(s.get('bank_last'))} | "
                     f"{bank_best} | {fmt(s['train_s_per_epoch'], 1)} | "
                     f"{fmt(s['eval_s_per_epoch'], 1)} | {fmt(s['wall_s_per_epoch'], 1)} | "
                     f"{run.get('device', '—')} |")
    lines += ['', 'train s/epoch: mean logged iteration time × iterations per epoch; kNN s/epoch: '
              'both monitors; wall = their sum (checkpoints and start-up not counted). Runs '
              'trained at the same time share the device.']
    if downstream:
        ks = sorted({k for row in downstream.values() if isinstance(row, dict)
                     for k in row if k.startswith('R@')}, key=lambda k: int(k[2:]))
        lines += ['', '## ISIF downstream (linear probe on the labelled training images; '
                  'Recall@K / NMI on the unseen classes 5–9)', '',
                  '| network | linear top-1 | ' + ' | '.join(ks) + ' | NMI |',
                  '|---' * (len(ks) + 3) + '|']
        for network in ('isif', 'untrained'):
            row = downstream.get(network, {})
            cells = [fmt(row.get('linear_top1'))] + [fmt(row.get(k)) for k in ks] + \
                [fmt(row.get('NMI'))]
            lines.append(f'| {network} | ' + ' | '.join(cells) + ' |')
        if downstream.get('unseen_seen_class_knn_top1') is not None:
            lines += ['', 'The unseen-class run (classes 0–4) reached kNN top-1 '
                      f"{fmt(downstream['unseen_seen_class_knn_top1'])} on its own classes."]
    return '\n'.join(lines) + '\n'


def build_table(roots: List[str]) -> dict:
    """``{'roots', 'devices', 'runs', 'downstream'}`` of the work roots."""
    runs = {name: summarise_run(path) for name, path in find_runs(roots).items()}
    downstream = {}
    for root in roots:
        folder = osp.join(root, DOWNSTREAM)
        if osp.isdir(folder):
            if downstream:
                raise ValueError(f'two downstream folders among {roots}; give one')
            downstream = summarise_downstream(folder)
    devices = sorted({f"{s['run']['device']} (torch {s['run'].get('torch', '?')})"
                      for s in runs.values() if 'device' in s.get('run', {})})
    return dict(roots=list(roots), devices=devices, runs=runs, downstream=downstream)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='The Fashion-MNIST reproduction table')
    parser.add_argument('roots', nargs='+', help="scripts/reproduce_fmnist.sh's work roots")
    parser.add_argument('--out', help='output prefix (default: <first root>/table)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    table = build_table(args.roots)
    if not table['runs']:
        raise SystemExit(f'no run with a scalars.json under {args.roots}')
    out = args.out or osp.join(args.roots[0], 'table')
    text = markdown(table['runs'], table['downstream'], table['devices'])
    with open(out + '.md', 'w') as f:
        f.write(text)
    with open(out + '.json', 'w') as f:
        json.dump(table, f, indent=1)
    print(text)
    print(f'wrote {out}.md and {out}.json')


if __name__ == '__main__':
    main()
