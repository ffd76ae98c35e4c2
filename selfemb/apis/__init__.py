"""Small public API: build a model from a config, load a checkpoint into it, extract
per-layer features of a dataset and read them back (the extraction and the readers are
:mod:`selfemb.evaluation`'s, re-exported here)."""
from selfemb.evaluation.feature_files import load_features, load_npy_pair
from selfemb.evaluation.features import dataset_labels, extract_features

from .features import extract_from_config
from .model import build_model_from_cfg, init_model

__all__ = ['build_model_from_cfg', 'init_model', 'extract_features', 'dataset_labels',
           'load_features', 'load_npy_pair', 'extract_from_config']
