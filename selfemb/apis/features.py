"""Per-layer features of a whole dataset, for offline evaluation (SVM, NMI, recall@K, t-SNE).

``extract_features(model, dataloader, layers)`` runs every rank's shard of ``dataloader``
through the model once, in eval mode, and captures the requested layers:

* ``'res2'`` .. ``'res5'``: the outputs of the ResNet stages ``layer1`` .. ``layer4`` (of the
  RGB trunk for :class:`~selfemb.models.backbones.SobelResNet`), caught with forward hooks;
* ``'backbone'``: the last output of ``model.extract_feat`` (what the kNN monitor's
  ``feature='backbone'`` uses; for SobelResNet the concatenated RGB + Sobel vector);
* ``'embedding'``: ``model.embed`` (backbone + neck).

Feature maps are average pooled to ``pool_size x pool_size`` (adaptive) and flattened
(channel-major, ``C * pool_size**2`` values); ``pool_size=1`` is global average pooling.
With ``pool_kernel=K`` they are instead ``avg_pool2d(kernel K, stride 1, no padding)``
pooled, the fixed pooling of the VOC07 SVM benchmark (OpenSelfSup / mmselfsup
``MultiPooling``, res5: K = 6 on the 7 x 7 map of a 224 px image -> 2048 x 2 x 2 = 8192
values). Vectors are kept as they are. Features come back float32, in dataset order
(sampler padding dropped).

For the evaluation tools (recall@K, t-SNE): ``load_npy_pair`` reads a features .npy (and
optionally a labels .npy) given by path, ``extract_from_config`` computes the features and
labels of one of a config's dataloaders under a checkpoint.
"""
import logging
import os
import os.path as osp
import sys
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine import dist
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar
from torch import nn

from selfemb.evaluation.knn import _gather_rows, _sample_indices, extract_embeddings

from .model import init_model

STAGES = {'res2': 'layer1', 'res3': 'layer2', 'res4': 'layer3', 'res5': 'layer4'}
VECTORS = ('backbone', 'embedding')
LAYERS = tuple(STAGES) + VECTORS


def feature_trunk(backbone: nn.Module) -> nn.Module:
    """The plain ResNet whose stages ``res2..res5`` name: the backbone itself, or the RGB
    trunk (``backbone.trunk``) of a two-trunk SobelResNet."""
    from selfemb.models.backbones import SobelResNet
    return backbone.trunk if isinstance(backbone, SobelResNet) else backbone


def pool_feature(x: torch.Tensor, pool_size: int = 1,
                 pool_kernel: Optional[int] = None) -> torch.Tensor:
    """(B, C, H, W) -> (B, C * pool_size**2) adaptive average pooled, or with
    ``pool_kernel`` K -> (B, C * (H - K + 1) * (W - K + 1)) by ``avg_pool2d(K, stride=1)``;
    (B, D) is returned flat."""
    if x.dim() == 4:
        if pool_kernel is None:
            x = F.adaptive_avg_pool2d(x, pool_size)
        elif pool_kernel > min(x.shape[-2:]):
            raise ValueError(f'pool_kernel {pool_kernel} exceeds the {tuple(x.shape[-2:])} map')
        else:
            x = F.avg_pool2d(x, pool_kernel, stride=1)
    return x.flatten(1).float()


def _hooks(model: nn.Module, layers: Sequence[str], store: dict) -> list:
    """Forward hooks that put each requested stage's output (and the backbone's last
    output) into ``store``."""
    trunk = feature_trunk(model.backbone)
    targets = {'backbone': model.backbone} if 'backbone' in layers else {}
    for name in layers:
        if name in STAGES:
            module = getattr(trunk, STAGES[name], None)
            if module is None:
                have = [n for n, attr in STAGES.items() if hasattr(trunk, attr)]
                raise ValueError(f'layer {name!r}: backbone {type(trunk).__name__} has no '
                                 f'{STAGES[name]} (its stages: {have})')
            targets[name] = module

    def keep(key: str):
        def hook(_module, _inputs, out):
            store[key] = out[-1] if isinstance(out, (list, tuple)) else out
        return hook
    return [module.register_forward_hook(keep(key)) for key, module in targets.items()]


def _forward_batch(model: nn.Module, x: torch.Tensor, layers: Sequence[str],
                   pool_size: int, pool_kernel: Optional[int] = None
                   ) -> Dict[str, torch.Tensor]:
    """One forward pass (``embed`` when the embedding is asked for, else the backbone)."""
    store: Dict[str, torch.Tensor] = {}
    handles = _hooks(model, layers, store)
    try:
        if 'embedding' in layers:
            store['embedding'] = model.embed(x)
        else:
            model.extract_feat(x)
    finally:
        for handle in handles:
            handle.remove()
    return {name: pool_feature(store[name], pool_size, pool_kernel).cpu() for name in layers}


@torch.no_grad()
def extract_features(model: nn.Module, dataloader, layers: Sequence[str] = ('res5', ),
                     pool_size: int = 1, progress: bool = False,
                     all_ranks: bool = True,
                     pool_kernel: Optional[int] = None) -> Dict[str, np.ndarray]:
    """``{layer: (N, D) float32 array}`` for every sample of ``dataloader``'s dataset.

    Each rank extracts the shard its sampler gives it; the rows are gathered and sorted by
    ``sample_idx`` (so the data samples must carry it: PackInputs meta_keys). The result
    also holds ``'sample_idx'`` (N,) int64. With ``all_ranks=False`` only the main process
    keeps the arrays (the others get ``{}``), which bounds host memory in big runs.
    ``pool_kernel`` replaces ``pool_size`` pooling by ``avg_pool2d(pool_kernel, stride 1)``.
    """
    layers = list(dict.fromkeys(layers))
    bad = [name for name in layers if name not in LAYERS]
    if not layers or bad:
        raise ValueError(f'unknown layers {bad or layers!r}; choose from {list(LAYERS)}')
    if pool_size < 1:
        raise ValueError(f'pool_size must be >= 1, got {pool_size}')
    if pool_kernel is not None and (pool_kernel < 1 or pool_size != 1):
        raise ValueError(f'pool_kernel must be >= 1 and used with pool_size 1, got '
                         f'pool_kernel={pool_kernel}, pool_size={pool_size}')
    model = model.module if is_model_wrapper(model) else model
    was_training = model.training
    model.eval()
    bar = ProgressBar(len(dataloader), file=sys.stderr) if (
        progress and dist.is_main_process()) else None
    local: Dict[str, list] = {name: [] for name in layers}
    idxs = []
    try:
        for data_batch in dataloader:
            data = model.data_preprocessor(data_batch, False)
            inputs = data['inputs']
            x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
            feats = _forward_batch(model, x, layers, pool_size, pool_kernel)
            samples = data.get('data_samples')
            if samples is None and isinstance(data_batch, dict):
                samples = data_batch.get('data_samples')
            idxs.append(_sample_indices(samples, len(x)))
            for name in layers:
                local[name].append(feats[name])
            if bar is not None:
                bar.update()
    finally:
        model.train(was_training)
        if bar is not None:
            sys.stderr.write('\n')
    local_idx = torch.cat(idxs) if idxs else torch.zeros(0, dtype=torch.int64)
    all_idx, order = torch.sort(_gather_rows(local_idx), stable=True)
    keep = torch.ones_like(all_idx, dtype=torch.bool)
    keep[1:] = all_idx[1:] != all_idx[:-1]
    rows = order[keep]
    result = {'sample_idx': all_idx[keep].numpy()} if all_ranks or dist.is_main_process() else {}
    for name in layers:
        mine = torch.cat(local.pop(name)) if idxs else torch.zeros(0, 0)
        gathered = _gather_rows(mine)
        if result:
            result[name] = gathered[rows].numpy().astype(np.float32, copy=False)
        del gathered
    return result


def dataset_labels(dataset, sample_idx: np.ndarray) -> Optional[np.ndarray]:
    """Integer labels of the extracted samples from ``dataset.get_gt_labels()``, or None
    when the dataset has no labels. Warns when fewer samples than the dataset holds were
    extracted."""
    if not hasattr(dataset, 'get_gt_labels'):
        return None
    try:
        gt = np.asarray(dataset.get_gt_labels())
    except (KeyError, TypeError, AttributeError):  # a data list without gt_label
        return None
    if gt.dtype == object or gt.ndim != 1 or len(gt) != len(dataset):
        return None
    if len(sample_idx) != len(gt):
        print_log(f'{len(sample_idx)} of {len(gt)} samples of {type(dataset).__name__} were '
                  'extracted (does the sampler drop samples?)', logger='current',
                  level=logging.WARNING)
    return gt[sample_idx].astype(np.int64)


def load_features(out_dir: str, split: str, layer: str) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """``(features [N, D] float32, labels [N] int64 or None)`` written by
    ``tools/extract_features.py`` as ``<out_dir>/<split>_<layer>.npy`` and
    ``<split>_labels.npy``."""
    path = osp.join(out_dir, f'{split}_{layer}.npy')
    if not osp.isfile(path):
        have = sorted(f[:-4] for f in os.listdir(out_dir) if f.endswith('.npy')) \
            if osp.isdir(out_dir) else []
        raise FileNotFoundError(f'{path} does not exist (arrays in {out_dir}: {have})')
    feats = np.load(path)
    label_path = osp.join(out_dir, f'{split}_labels.npy')
    labels = np.load(label_path) if osp.isfile(label_path) else None
    if labels is not None and len(labels) != len(feats):
        raise ValueError(f'{label_path} has {len(labels)} labels for {len(feats)} rows of {path}')
    return feats, labels


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
