"""What a whole-step CUDA graph cannot hold, named before the first step is taken."""
import os
from typing import List

from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..model_loading import unwrap
from ..optim_wrappers import NonFiniteSkipOptimWrapper

#: environment variables PyTorch reads for NCCL's asynchronous error handling (new, old)
NCCL_ASYNC_ERROR_VARS = ('TORCH_NCCL_ASYNC_ERROR_HANDLING', 'NCCL_ASYNC_ERROR_HANDLING')

UNDECLARED = ('does not declare its step static: set graph_blocker = None on the class once '
              'its train_step has fixed shapes, no host synchronisation and no state kept '
              'in Python between steps')


class GraphRefusedError(RuntimeError):
    """The training step cannot be captured as one CUDA graph; the message says why."""


def model_blocker(model: nn.Module) -> str:
    """The model's own reason its step cannot be captured ('' when it can): the
    ``graph_blocker`` a selfemb algorithm declares (``None``: capturable)."""
    algorithm = unwrap(model)
    blocker = getattr(algorithm, 'graph_blocker', UNDECLARED)
    return f'{type(algorithm).__name__} {blocker}' if blocker else ''


def wrapper_refusals(optim_wrapper: OptimWrapper) -> List[str]:
    """The optim-wrapper settings a replay cannot honour."""
    if isinstance(optim_wrapper, OptimWrapperDict):
        return ['several optimizers (OptimWrapperDict): the graph holds one OptimWrapper']
    reasons = []
    counts = getattr(optim_wrapper, '_accumulative_counts', 1)
    if counts > 1:
        reasons.append(f'optim_wrapper.accumulative_counts={counts}: gradient accumulation '
                       'steps the optimizer on every n-th call only, a choice made in Python')
    scaler = getattr(optim_wrapper, 'loss_scaler', None)
    if scaler is not None:
        reasons.append(f'{type(optim_wrapper).__name__} has a loss scaler '
                       f'({type(scaler).__name__}): its found-inf check reads the GPU on the '
                       'host every step; bf16 needs no loss scaling (use a wrapper without one)')
    if getattr(optim_wrapper, 'clip_grad_kwargs', None):
        reasons.append('optim_wrapper.clip_grad: mmengine logs the gradient norm with '
                       'float(), a host read every step')
    if isinstance(optim_wrapper, NonFiniteSkipOptimWrapper):
        reasons.append('NonFiniteSkipOptimWrapper decides on the host whether to step; use '
                       "OptimWrapper with NonFiniteGuardHook(action='stop')")
    return reasons


def ddp_refusals(model: nn.Module) -> List[str]:
    """What DDP needs for its backward to be captured with NCCL (PyTorch's CUDA-graph
    notes): no unused-parameter search, async error handling off before the process group
    starts (``tools/train.py --cuda-graph`` sets it), DDP built on a side stream
    (``SelfembRunner.wrap_model`` does) and at least 11 eager warm-up steps
    (:class:`GraphedTrainStep` raises ``warmup`` to 11)."""
    if not isinstance(model, DistributedDataParallel):
        return []
    reasons = []
    if model.find_unused_parameters:
        reasons.append('model_wrapper_cfg.find_unused_parameters=True: DDP searches the '
                       'autograd graph for unused parameters on the host every step')
    on_cuda = any(p.is_cuda for p in model.parameters())
    if on_cuda and not any(os.environ.get(name) == '0' for name in NCCL_ASYNC_ERROR_VARS):
        reasons.append('DDP with NCCL needs TORCH_NCCL_ASYNC_ERROR_HANDLING=0 in the '
                       'environment before the process group starts (tools/train.py '
                       '--cuda-graph sets it)')
    return reasons


def refusals(model: nn.Module, optim_wrapper: OptimWrapper) -> List[str]:
    """Every reason ``model.train_step(data, optim_wrapper)`` cannot be one CUDA graph."""
    blocker = model_blocker(model)
    return ([blocker] if blocker else []) + wrapper_refusals(optim_wrapper) + \
        ddp_refusals(model)


def check_capturable(model: nn.Module, optim_wrapper: OptimWrapper) -> None:
    """Raise :class:`GraphRefusedError` listing :func:`refusals`, if there are any."""
    reasons = refusals(model, optim_wrapper)
    if reasons:
        raise GraphRefusedError(
            'cuda_graph: the training step cannot be captured as one CUDA graph:\n  - '
            + '\n  - '.join(reasons) + '\nTrain without it (drop --cuda-graph, or set '
            'cuda_graph.enable=False), or change what is named above.')
