"""Write class-balanced label subsets (1 %, 10 %, ...) for semi-supervised fine-tuning.

Labels come from the config's training data source or from a .npy file. The source is
built without its ``filter_cfg.index_file`` (the file this tool writes) and without
``indices`` (which select from the file's rows), its other filters kept. For each percent
p and seed s it writes ``OUT/train_<p>pct_seed<s>.txt``: one row of that source per line,
sorted, read back by the source's ``filter_cfg=dict(index_file=...)``.

    python tools/benchmarks/classification/make_semi_subsets.py \
        configs/benchmarks/semi/r18_fmnist_10pct.py --percent 1 10 --out data/fmnist_semi
    python tools/benchmarks/classification/make_semi_subsets.py --labels train_labels.npy \
        --percent 1 10 --out subsets
"""
import argparse
import copy
import os
import os.path as osp

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from selfemb.datasets.subset import class_balanced_subset


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='class-balanced semi-supervised subsets')
    parser.add_argument('config', nargs='?', help='config whose train_dataloader.dataset '
                        'gives the labels')
    parser.add_argument('--labels', help='(N,) .npy labels instead of a config')
    parser.add_argument('--percent', type=float, nargs='+', default=[1, 10])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args()


def labels_from_config(path: str, options: dict) -> np.ndarray:
    import selfemb.datasets  # noqa: F401  (registrations)
    from selfemb.registry import DATASETS
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(options)
    init_default_scope(cfg.get('default_scope', 'selfemb'))
    dataset = copy.deepcopy(cfg.train_dataloader.dataset)
    while dataset.get('type') in ('SubsetFromFile', 'DeviceDataset'):
        dataset = dataset['dataset']  # earlier configs' wrappers
    # the rows the index file refers to: every filter but the file itself, no indices
    dataset.pop('indices', None)
    filter_cfg = {k: v for k, v in (dataset.get('filter_cfg') or {}).items()
                  if k != 'index_file'}
    dataset['filter_cfg'] = filter_cfg or None
    dataset.pop('pipeline', None)
    return np.asarray(DATASETS.build(dataset).get_gt_labels())


def main() -> None:
    args = parse_args()
    if args.labels:
        labels = np.load(args.labels)
    elif args.config:
        labels = labels_from_config(args.config, args.cfg_options)
    else:
        raise SystemExit('give a CONFIG or --labels')
    os.makedirs(args.out, exist_ok=True)
    for percent in args.percent:
        for seed in args.seeds:
            idx = class_balanced_subset(labels, percent, seed)
            name = osp.join(args.out, f'train_{percent:g}pct_seed{seed}.txt')
            with open(name, 'w') as f:
                f.write(''.join(f'{i}\n' for i in idx))
            counts = np.bincount(labels[idx])
            print(f'{name}: {len(idx)} of {len(labels)} samples, {counts.min()}-'
                  f'{counts.max()} per class')


if __name__ == '__main__':
    main()
