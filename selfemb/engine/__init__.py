"""Training-loop pieces: the runner, hooks, parameter schedulers and checkpoint I/O
(imported for their registrations)."""
from ..utils import checkpoint  # noqa: F401  (atomic writes, safe local loading)
from .hooks import *  # noqa: F401,F403
from .loops import ResumableEpochBasedTrainLoop  # noqa: F401
from .optim_wrappers import (  # noqa: F401
    Bf16NonFiniteSkipOptimWrapper,
    Bf16OptimWrapper,
    NonFiniteSkipOptimWrapper,
)
from .runner import SelfembRunner  # noqa: F401
from .schedulers import *  # noqa: F401,F403
