"""Shared by the benchmark tools: features from .npy files or from CONFIG + CHECKPOINT."""
import os.path as osp
from typing import Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config


def load_npy_pair(features: str, labels: Optional[str]) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """``<split>_<layer>.npy`` float32 (N, C) features and, optionally, (N,) labels."""
    for path in (features, labels):
        if path is not None and not osp.isfile(path):
            raise FileNotFoundError(f'{path} not found')
    feats = np.load(features)
    if feats.ndim != 2:
        raise ValueError(f'{features}: expected (N, C) features, got shape {feats.shape}')
    if labels is None:
        return feats.astype(np.float32), None
    lab = np.load(labels)
    if lab.shape != (len(feats), ):
        raise ValueError(f'{labels}: expected ({len(feats)},) labels for {features}, got '
                         f'{lab.shape}')
    return feats.astype(np.float32), lab.astype(np.int64)


def extract_from_config(cfg: Config, checkpoint: str, loader_key: str,
                        feature: str = 'embedding') -> Tuple[np.ndarray, np.ndarray]:
    """Features and labels of the dataloader ``cfg[loader_key]`` under ``checkpoint``
    (``init_model`` + ``extract_embeddings``; on the GPU when there is one)."""
    from mmengine.runner import Runner

    from selfemb.apis.model import init_model
    from selfemb.evaluation import extract_embeddings
    if loader_key not in cfg:
        raise KeyError(f'{cfg.filename} has no top-level {loader_key!r} dataloader')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = init_model(cfg, checkpoint, device=device)
    seed = cfg.get('randomness', {}).get('seed')
    loader = Runner.build_dataloader(cfg[loader_key], seed=seed)
    feats, idx = extract_embeddings(model, loader, feature=feature, progress=True)
    labels = np.asarray(loader.dataset.get_gt_labels())[idx.numpy()]
    return feats.numpy(), labels
