"""Helpers every layer may use (imports nothing from selfemb): rank-0 computation shared
with every rank, and RNG streams left untouched."""
from .rank0 import frozen_rng, on_rank0

__all__ = ['on_rank0', 'frozen_rng']
