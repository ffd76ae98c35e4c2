"""Switching the CUDA-graph step on from a config: ``cuda_graph = dict(enable=True, ...)``."""
import os
from contextlib import contextmanager
from typing import Iterator, Optional

import torch
from mmengine.hooks import Hook

from selfemb.registry import HOOKS

from .checks import NCCL_ASYNC_ERROR_VARS
from .step import GraphedTrainStep

#: keys of a config's ``cuda_graph`` dict
OPTIONS = ('enable', 'warmup', 'max_graphs')


def graph_options(cfg) -> Optional[dict]:
    """The :class:`CudaGraphHook` arguments of ``cfg.cuda_graph`` when it is enabled, else
    None; an unknown key is an error that names it."""
    options = cfg.get('cuda_graph') or {}
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise KeyError(f'cuda_graph has no {unknown}; its keys: {list(OPTIONS)}')
    if not options.get('enable', False):
        return None
    return {k: v for k, v in options.items() if k != 'enable'}


def disable_nccl_async_error_handling() -> None:
    """What PyTorch asks before capturing DDP with NCCL; call before the process group
    starts (a value the user set is kept, and checked at capture)."""
    if not any(name in os.environ for name in NCCL_ASYNC_ERROR_VARS):
        os.environ[NCCL_ASYNC_ERROR_VARS[0]] = '0'


@contextmanager
def side_stream(enabled: bool) -> Iterator[None]:
    """Run the block on a fresh CUDA side stream (DDP is built there before its backward
    can be captured); a no-op when not ``enabled``."""
    if not enabled:
        yield
        return
    side, current = torch.cuda.Stream(), torch.cuda.current_stream()
    side.wait_stream(current)
    with torch.cuda.stream(side):
        yield
    current.wait_stream(side)


@HOOKS.register_module()
class CudaGraphHook(Hook):
    """Replace ``runner.model.train_step`` by a :class:`GraphedTrainStep` for the training
    run (``before_train``, after ``--resume`` has loaded everything; removed in
    ``after_train``). ``SelfembRunner`` adds it when ``cfg.cuda_graph.enable`` is set
    (``tools/train.py --cuda-graph``). Without CUDA the static step runs eagerly.

    Args:
        warmup: Eager steps per batch shape before capture.
        max_graphs: Batch shapes captured at most.
    """

    priority = 'LOWEST'  # after every other before_train (banks set up, k-means run)

    def __init__(self, warmup: int = 3, max_graphs: int = 2) -> None:
        if warmup < 1 or max_graphs < 1:
            raise ValueError(f'cuda_graph needs warmup >= 1 and max_graphs >= 1, got '
                             f'warmup={warmup}, max_graphs={max_graphs}')
        self.warmup, self.max_graphs = warmup, max_graphs
        self.step: Optional[GraphedTrainStep] = None

    def before_train(self, runner) -> None:
        self.step = GraphedTrainStep(runner.model, runner.optim_wrapper, self.warmup,
                                     self.max_graphs, log=runner.logger.info)
        if not self.step.capture:
            runner.logger.warning('cuda_graph: the model is not on a CUDA device; the static '
                                  'step runs eagerly and nothing is captured')
        runner.model.train_step = self.step

    def after_train(self, runner) -> None:
        vars(runner.model).pop('train_step', None)
