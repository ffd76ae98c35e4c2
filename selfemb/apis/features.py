"""Features and labels of one of a config's dataloaders under a checkpoint, for the
evaluation tools (recall@K, t-SNE). The extraction itself is
:mod:`selfemb.evaluation.features`."""
import os.path as osp
from typing import Tuple

import numpy as np
import torch
from mmengine.config import Config

from selfemb.evaluation.features import extract_embeddings

from .model import init_model


def extract_from_config(cfg: Config, checkpoint: str, loader_key: str,
                        feature: str = 'embedding') -> Tuple[np.ndarray, np.ndarray]:
    """Features and labels of the dataloader ``cfg[loader_key]`` under ``checkpoint``
    (``init_model`` + ``extract_embeddings``; on the GPU when there is one)."""
    from mmengine.runner import Runner
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
