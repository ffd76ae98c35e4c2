"""Small public API: build a model from a config, load a checkpoint into it."""
from .model import build_model_from_cfg, init_model

__all__ = ['build_model_from_cfg', 'init_model']
