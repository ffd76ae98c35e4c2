"""Extract per-layer features of a checkpoint on the config's dataloaders, as .npy files.

    python tools/extract_features.py CONFIG CHECKPOINT --out DIR \\
        [--layers res5 embedding] [--dataloader knn_train_dataloader knn_val_dataloader] \\
        [--pool-size 1 | --pool-kernel 6] [--cfg-options k=v ...]
    python tools/extract_features.py configs/benchmarks/svm_voc07/r50_voc07.py CKPT \
        --out DIR --layers res5 --pool-kernel 6 \
        --dataloader trainval_dataloader test_dataloader   # the VOC07 SVM features
    torchrun --nproc_per_node=8 tools/extract_features.py CONFIG CKPT --out DIR --launcher pytorch

For every dataloader ``<split>_dataloader`` (a top-level key of the config) it writes

* ``DIR/<split>_<layer>.npy``: float32 ``[N, D]``, row i = sample i of the dataset;
  ``res2..res5`` are average pooled to ``pool_size x pool_size`` and flattened
  (``D = C * pool_size**2``), or with ``--pool-kernel K`` by ``avg_pool2d(K, stride 1)``
  (the SVM benchmark's res5 pooling: K = 6, 7 x 7 -> 2 x 2, D = 8192 for ResNet-50);
  ``backbone`` / ``embedding`` are the model's vectors;
* ``DIR/<split>_labels.npy``: int64 ``[N]``, when the dataset has ``get_gt_labels()``;
* ``DIR/meta.json``: config, checkpoint, layers, pool size and every array's shape.
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dist import get_world_size, is_main_process
from mmengine.runner import Runner

from selfemb.apis import build_model_from_cfg
from selfemb.engine.config_check import check_cfg_options
from selfemb.engine.dist import init_distributed, shutdown_distributed
from selfemb.engine.model_loading import load_checkpoint_checked
from selfemb.evaluation.features import LAYERS, dataset_labels, extract_features
from selfemb.utils.checkpoint import trust_checkpoints


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Extract features of a checkpoint')
    parser.add_argument('config', help='the training config of the checkpoint')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='output directory for the .npy files')
    parser.add_argument('--layers', nargs='+', default=['res5'], choices=LAYERS,
                        help='res2..res5 (stage outputs), backbone, embedding (after the neck)')
    parser.add_argument('--dataloader', nargs='+',
                        default=['knn_train_dataloader', 'knn_val_dataloader'],
                        help='top-level dataloader keys of the config')
    parser.add_argument('--pool-size', type=int, default=1,
                        help='average pool feature maps to SIZE x SIZE (1: global average)')
    parser.add_argument('--pool-kernel', type=int,
                        help='instead avg_pool2d(kernel K, stride 1) the feature maps '
                             '(VOC07 SVM res5: 6)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    parser.add_argument('--allow-mismatch', action='store_true',
                        help='extract with a checkpoint of another model (the keys that fit)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load a checkpoint that is not tensors-only in full (runs its '
                        'pickled code: only for files you trust)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def split_name(loader_key: str) -> str:
    return loader_key[:-len('_dataloader')] if loader_key.endswith('_dataloader') else loader_key


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    check_cfg_options(cfg, args.cfg_options)
    cfg.merge_from_dict(args.cfg_options)
    if args.trust_checkpoint:
        trust_checkpoints()
    init_distributed(args.launcher, cfg.get('env_cfg', {}).get('dist_cfg', {}))
    unknown = [key for key in args.dataloader if key not in cfg]
    if unknown:
        raise KeyError(f'{args.config} has no top-level dataloader {unknown}; its dataloaders: '
                       f"{[k for k in cfg.keys() if k.endswith('dataloader')]}")
    model = build_model_from_cfg(cfg)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    load_checkpoint_checked(model, args.checkpoint, allow_mismatch=args.allow_mismatch)
    if torch.cuda.is_available():
        model = model.cuda()
    meta = dict(config=args.config, checkpoint=args.checkpoint, layers=args.layers,
                pool_size=args.pool_size, pool_kernel=args.pool_kernel,
                world_size=get_world_size(), arrays={})
    os.makedirs(args.out, exist_ok=True)
    seed = cfg.get('randomness', {}).get('seed')
    for key in args.dataloader:
        loader = Runner.build_dataloader(cfg[key], seed=seed)
        split = split_name(key)
        if is_main_process():
            print(f'{split}: {len(loader.dataset)} samples, layers {args.layers}', flush=True)
        feats = extract_features(model, loader, args.layers, args.pool_size, progress=True,
                                 all_ranks=False, pool_kernel=args.pool_kernel)
        if not is_main_process():
            continue
        arrays = {f'{split}_{name}': feats[name] for name in args.layers}
        labels = dataset_labels(loader.dataset, feats['sample_idx'])
        if labels is not None:
            arrays[f'{split}_labels'] = labels
        for name, array in arrays.items():
            np.save(osp.join(args.out, f'{name}.npy'), array)
            meta['arrays'][name] = [list(array.shape), str(array.dtype)]
            print(f'  {name}.npy {array.shape} {array.dtype}', flush=True)
    if is_main_process():
        with open(osp.join(args.out, 'meta.json'), 'w') as f:
            json.dump(meta, f, indent=1)
    shutdown_distributed()


if __name__ == '__main__':
    main()
