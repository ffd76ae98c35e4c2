"""The whole training step as one CUDA graph (``cuda_graph = dict(enable=True)`` in a config,
``tools/train.py --cuda-graph``); see docs/components.md, "CUDA graph step"."""
from .checks import GraphRefusedError, check_capturable, refusals
from .hook import CudaGraphHook, disable_nccl_async_error_handling, graph_options, side_stream
from .step import GraphedTrainStep, takes_device_lr

__all__ = ['GraphedTrainStep', 'CudaGraphHook', 'GraphRefusedError', 'check_capturable',
           'refusals', 'graph_options', 'side_stream', 'disable_nccl_async_error_handling',
           'takes_device_lr']
