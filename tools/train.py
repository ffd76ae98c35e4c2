"""Train a selfemb config: ``python tools/train.py CONFIG [--work-dir DIR] [--resume [PATH]]``.

Multi-GPU: ``tools/dist_train.sh CONFIG GPUS [args]`` (torchrun); SLURM:
``tools/slurm_train.sh PARTITION JOB CONFIG [args]``. On CPU add
``--cfg-options env_cfg.dist_cfg.backend=gloo`` to run several processes.
"""
import argparse
import os

import torch
from mmengine.config import Config, DictAction
from torch.distributed.elastic.multiprocessing.errors import record

from selfemb.engine.config_check import check_cfg_options
from selfemb.engine.cuda_graph import disable_nccl_async_error_handling
from selfemb.engine.dist import init_distributed, shutdown_distributed
from selfemb.engine.optim_wrappers import bf16_wrapper_type
from selfemb.engine.runner import build_runner, default_work_dir
from selfemb.utils.checkpoint import trust_checkpoints


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a selfemb model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go (default: '
                        'work_dirs/<path under configs/>, e.g. work_dirs/isif/r18_fmnist)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from PATH, or from the latest checkpoint in the '
                        'work dir when no PATH is given')
    parser.add_argument('--allow-mismatch', action='store_true',
                        help='let --resume / load_from load a checkpoint of another model '
                        '(the keys that fit; the others are listed)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load checkpoints that are not tensors-only in full (runs their '
                        'pickled code: only for files you trust)')
    parser.add_argument('--amp', action='store_true',
                        help='bf16 automatic mixed precision (Bf16OptimWrapper: no loss scaling)')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels_last inputs and backbone (faster convolutions)')
    parser.add_argument('--cuda-graph', action='store_true',
                        help='replay the whole training step from a CUDA graph captured per '
                        'batch shape (cfg.cuda_graph; docs/components.md, "CUDA graph step")')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_cfg.max_epochs=5')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    cfg.launcher = args.launcher
    # before --cfg-options, so that cuda_graph.warmup=5 names a key the config has
    cfg.cuda_graph = dict(dict(enable=False, warmup=3, max_graphs=2),
                          **(cfg.get('cuda_graph') or {}))
    if args.cuda_graph:
        if not torch.cuda.is_available():
            raise SystemExit('--cuda-graph captures the training step in a CUDA graph and '
                             'needs a GPU; none is visible (torch.cuda.is_available() is '
                             'False). Train without --cuda-graph.')
        cfg.cuda_graph.enable = True
    if args.cfg_options:
        check_cfg_options(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    if args.allow_mismatch:
        cfg.allow_mismatch = True
    if args.trust_checkpoint:
        trust_checkpoints()
    if args.amp:  # bf16 autocast, no loss scaling (no per-step host read)
        if not torch.cuda.is_available():
            raise SystemExit('--amp (bf16 autocast through Bf16OptimWrapper) needs a GPU')
        cfg.optim_wrapper.type = bf16_wrapper_type(cfg.optim_wrapper.get('type', 'OptimWrapper'))
    if args.channels_last:
        cfg.data_preprocessor = dict(cfg.get('data_preprocessor') or {}, channels_last=True)
    if args.launcher != 'none' and not torch.cuda.is_available():
        # CPU processes (gloo): DDP must not be given a device id
        cfg.model_wrapper_cfg = dict(cfg.get('model_wrapper_cfg') or {}, device_ids=None)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


@record  # torchrun's summary shows the failing rank's traceback
def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    if cfg.cuda_graph.enable and args.launcher != 'none':
        disable_nccl_async_error_handling()  # before the process group, for DDP's capture
    init_distributed(args.launcher, cfg.get('env_cfg', {}).get('dist_cfg', {}))
    runner = build_runner(cfg)
    runner.train()
    del runner  # its DDP model holds the process group (see shutdown_distributed)
    shutdown_distributed()


if __name__ == '__main__':
    main()
