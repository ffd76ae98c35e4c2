"""Prepare an mmdet / mmseg benchmark config for a run: pretrained file, data root, norm layers.

Used by ``tools/benchmarks/{mmdetection,mmsegmentation}/train.py``; the configs are in
``configs/benchmarks/``.
"""
import os.path as osp
from typing import Any, Optional

from mmengine.config import Config


def _walk(node: Any, fn) -> None:
    """Call ``fn(d)`` on every dict inside ``node`` (dicts, lists, tuples), depth first."""
    if isinstance(node, dict):
        fn(node)
        for value in node.values():
            _walk(value, fn)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _walk(value, fn)


def set_pretrained(cfg: Config, checkpoint: str) -> int:
    """Point every ``init_cfg=dict(type='Pretrained', prefix='backbone.')`` of ``cfg.model``
    at ``checkpoint``; returns how many were set (0 is an error: nothing would load)."""
    count = [0]

    def fn(node: dict) -> None:
        init = node.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained' and \
                init.get('prefix') == 'backbone.':
            init['checkpoint'] = checkpoint
            count[0] += 1
    _walk(cfg.model, fn)
    if not count[0]:
        raise KeyError("the config's model has no init_cfg=dict(type='Pretrained', "
                       "prefix='backbone.') to receive the pretrained weights")
    return count[0]


def set_data_root(cfg: Config, data_root: str) -> int:
    """Replace ``data_root`` in every dataset of the train / val / test dataloaders."""
    count = [0]

    def fn(node: dict) -> None:
        if 'data_root' in node:
            node['data_root'] = data_root
            count[0] += 1
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        _walk(cfg.get(key), fn)
    cfg.data_root = data_root
    return count[0]


def sync_bn_to_bn(cfg: Config) -> int:
    """``SyncBN`` -> ``BN`` in ``cfg.model`` (one process, or CPU processes: torch's
    SyncBatchNorm needs CUDA and a process group); returns the number replaced."""
    count = [0]

    def fn(node: dict) -> None:
        if node.get('type') in ('SyncBN', 'MMSyncBN'):
            node['type'] = 'BN'
            count[0] += 1
    _walk(cfg.model, fn)
    return count[0]


def prepare_benchmark_cfg(cfg: Config, pretrained: Optional[str], data_root: Optional[str],
                          distributed: bool, cuda: bool) -> Config:
    """Apply the run's choices to a benchmark config (in place, and returned)."""
    if pretrained is not None:
        if not osp.isfile(pretrained):
            raise FileNotFoundError(f'pretrained backbone file {pretrained} does not exist '
                                    '(write it with tools/model_converters/'
                                    'extract_backbone_weights.py)')
        set_pretrained(cfg, pretrained)
    if data_root is not None:
        if not osp.isdir(data_root):
            raise FileNotFoundError(f'data root {data_root} is not a directory')
        set_data_root(cfg, data_root)
    if not (distributed and cuda):
        sync_bn_to_bn(cfg)
    if distributed and not cuda:  # CPU processes (gloo): DDP must not be given a device id
        cfg.model_wrapper_cfg = dict(cfg.get('model_wrapper_cfg') or {}, device_ids=None)
    return cfg


def benchmark_main(library: str, argv: Optional[list] = None) -> None:
    """``train.py CONFIG [--pretrained FILE] [--data-root DIR] [--work-dir DIR]
    [--auto-scale-lr] [--cfg-options k=v] [--launcher pytorch]``: train an mmdet / mmseg
    benchmark config with mmengine's Runner (the config's default_scope picks the
    library's registries)."""
    import argparse
    import os

    import torch
    from mmengine.config import DictAction
    from mmengine.runner import Runner

    from selfemb.engine.dist import init_distributed, shutdown_distributed
    parser = argparse.ArgumentParser(description=f'Train a {library} transfer benchmark')
    parser.add_argument('config', help=f'configs/benchmarks/{library}/... config')
    parser.add_argument('--pretrained', help='backbone file of extract_backbone_weights.py')
    parser.add_argument('--data-root', help="replaces every dataset's data_root")
    parser.add_argument('--work-dir', help='default: work_dirs/benchmarks/<config name>')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by (total batch size / auto_scale_lr.base_batch_size)')
    parser.add_argument('--resume', action='store_true', help='resume from the work dir')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))

    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', 'benchmarks', osp.splitext(osp.basename(args.config))[0])
    prepare_benchmark_cfg(cfg, args.pretrained, args.data_root,
                          distributed=args.launcher != 'none', cuda=torch.cuda.is_available())
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    cfg.resume = args.resume
    init_distributed(args.launcher, cfg.get('env_cfg', {}).get('dist_cfg', {}))
    runner = Runner.from_cfg(cfg)
    runner.train()
    del runner  # its DDP model holds the process group (see shutdown_distributed)
    shutdown_distributed()
