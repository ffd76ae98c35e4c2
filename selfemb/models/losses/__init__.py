"""Losses as pure functions; heads are thin registered wrappers around them."""
from .instance_spread import instance_spread_loss
from .memory_nce import estimate_log_z, memory_nce_loss, memory_softmax_loss

__all__ = ['instance_spread_loss', 'memory_softmax_loss', 'memory_nce_loss', 'estimate_log_z']
