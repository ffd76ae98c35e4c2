"""Small public API: build a model from a config, load a checkpoint into it, extract
per-layer features of a dataset and read them back."""
from .features import (
    dataset_labels,
    extract_features,
    extract_from_config,
    load_features,
    load_npy_pair,
)
from .model import build_model_from_cfg, init_model

__all__ = ['build_model_from_cfg', 'init_model', 'extract_features', 'dataset_labels',
           'load_features', 'load_npy_pair', 'extract_from_config']
