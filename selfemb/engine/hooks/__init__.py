"""Training hooks."""
from .deferred_runtime_info_hook import DeferredRuntimeInfoHook, flush_logged_scalars
from .knn_eval_hook import KNNEvalHook
from .memory_init_hook import MemoryInitHook
from .neighbour_positive_hook import NeighbourPositiveHook
from .neighbourhood_discovery_hook import NeighbourhoodDiscoveryHook
from .nonfinite_guard_hook import NonFiniteGuardHook, NonFiniteLossError
from .odc_init_hook import ODCInitHook
from .random_state_hook import RandomStateHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .uic_label_hook import UICLabelHook

__all__ = ['KNNEvalHook', 'MemoryInitHook', 'NeighbourhoodDiscoveryHook', 'RandomStateHook',
           'ODCInitHook', 'UICLabelHook', 'NeighbourPositiveHook', 'SafeCheckpointHook',
           'NonFiniteGuardHook', 'NonFiniteLossError', 'DeferredRuntimeInfoHook',
           'flush_logged_scalars']
