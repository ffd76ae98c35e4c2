"""Training-loop pieces: hooks, parameter schedulers and checkpoint I/O (imported for
their registrations)."""
from . import checkpoint  # noqa: F401  (atomic writes, trusted local loading)
from .hooks import *  # noqa: F401,F403
from .schedulers import *  # noqa: F401,F403
