"""Weighted-kNN evaluation of a checkpoint (Wu et al. 2018).

The reference and query sets, k, temperature and feature come from the config's
``KNNEvalHook`` entry in ``custom_hooks``; --k / --temperature / --feature override them.
The last line of stdout is a JSON object of the metrics (only rank 0 prints).

    python tools/test.py CONFIG CHECKPOINT [--cfg-options k=v ...]
    bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [args]
"""
import argparse
import json
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import get_rank
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from selfemb.apis import build_model_from_cfg  # imports every registration
from selfemb.engine.config_check import check_cfg_options
from selfemb.engine.dist import init_distributed, shutdown_distributed
from selfemb.engine.model_loading import load_checkpoint_checked
from selfemb.engine.runner import hooks_by_role
from selfemb.evaluation.knn import knn_evaluate
from selfemb.evaluation.loaders import resolve_loader_cfg
from selfemb.utils.checkpoint import trust_checkpoints


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='kNN evaluation of a checkpoint')
    parser.add_argument('config', help='config file with a KNNEvalHook in custom_hooks')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, e.g. model.neck.out_channels=128')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    parser.add_argument('--k', type=int, help='neighbours (default: from the hook config)')
    parser.add_argument('--temperature', type=float, help='vote temperature sigma')
    parser.add_argument('--feature', choices=['embedding', 'backbone'],
                        help='embedding (model.embed) or pooled backbone output')
    parser.add_argument('--allow-mismatch', action='store_true',
                        help='evaluate a checkpoint of another model (the keys that fit)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load a checkpoint that is not tensors-only in full (runs its '
                        'pickled code: only for files you trust)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def find_knn_hook(cfg: Config) -> dict:
    for hook in hooks_by_role(cfg.get('custom_hooks')):  # roles set to None left out
        hook_type = hook.get('type')
        name = hook_type if isinstance(hook_type, str) else getattr(hook_type, '__name__', '')
        if name.split('.')[-1] == 'KNNEvalHook':
            return hook
    raise KeyError(f'{cfg.filename} has no KNNEvalHook in custom_hooks: add custom_hooks = '
                   "dict(knn=dict(type='KNNEvalHook', train_dataloader=..., "
                   'val_dataloader=...))')


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    check_cfg_options(cfg, args.cfg_options)
    cfg.merge_from_dict(args.cfg_options)
    if args.trust_checkpoint:
        trust_checkpoints()
    init_default_scope(cfg.get('default_scope', 'selfemb'))
    init_distributed(args.launcher, cfg.get('env_cfg', {}).get('dist_cfg', {}))

    hook = find_knn_hook(cfg)
    k = args.k if args.k is not None else hook.get('k', 200)
    temperature = hook.get('temperature', 0.1) if args.temperature is None else args.temperature
    feature = args.feature or hook.get('feature', 'embedding')

    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    model = build_model_from_cfg(cfg)
    load_checkpoint_checked(model, args.checkpoint, allow_mismatch=args.allow_mismatch)
    if torch.cuda.is_available():
        model = model.cuda()

    seed = cfg.get('randomness', {}).get('seed')
    train_loader = Runner.build_dataloader(resolve_loader_cfg(hook['train_dataloader'], cfg),
                                           seed=seed)
    val_loader = Runner.build_dataloader(resolve_loader_cfg(hook['val_dataloader'], cfg),
                                         seed=seed)
    if get_rank() == 0:
        print(f'kNN evaluation of {args.checkpoint} ({args.config})\n'
              f'  reference: {len(train_loader.dataset)} samples, '
              f'queries: {len(val_loader.dataset)} samples\n'
              f'  k={k}, temperature={temperature}, feature={feature}', flush=True)
    metrics = knn_evaluate(model, train_loader, val_loader, k=k, temperature=temperature,
                           feature=feature, num_classes=hook.get('num_classes'),
                           progress=True)
    if get_rank() == 0:
        print(f"kNN top-1: {metrics['knn_top1']:.2f}  top-5: {metrics['knn_top5']:.2f}")
        sys.stdout.write(json.dumps(metrics) + '\n')
        sys.stdout.flush()
    shutdown_distributed()


if __name__ == '__main__':
    main()
