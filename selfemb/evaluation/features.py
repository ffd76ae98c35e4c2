"""Features of a whole dataset: the one extraction path of kNN, the hooks and the tools.

Every rank runs its sampler's shard of a dataloader through ``model.data_preprocessor``
and the model once, in eval mode (the previous mode is restored), and the rows of all
ranks are gathered and sorted by ``sample_idx`` (sampler padding dropped;
:mod:`.gather`). Two views of the result:

* :func:`extract_embeddings` (kNN monitor, ODCInitHook, ``tools/test.py``): one
  ``feature``, ``'embedding'`` (``model.embed``) or ``'backbone'`` (the last output of
  ``model.extract_feat``, globally mean pooled), as float32 CPU tensors.
* :func:`extract_features` (``tools/extract_features.py``, NeighbourPositiveHook, SVM,
  NMI, recall@K, t-SNE): several layers as float32 arrays.

  - ``'res2'`` .. ``'res5'``: the outputs of the ResNet stages ``layer1`` .. ``layer4``
    (of the RGB trunk for :class:`~selfemb.models.backbones.SobelResNet`), caught with
    forward hooks;
  - ``'backbone'``: the last output of the backbone (for SobelResNet the concatenated
    RGB + Sobel vector);
  - ``'embedding'``: ``model.embed`` (backbone + neck).

  Feature maps are average pooled to ``pool_size x pool_size`` (adaptive) and flattened
  (channel-major, ``C * pool_size**2`` values); ``pool_size=1`` is global average pooling.
  With ``pool_kernel=K`` they are instead ``avg_pool2d(kernel K, stride 1, no padding)``
  pooled, the fixed pooling of the VOC07 SVM benchmark (OpenSelfSup / mmselfsup
  ``MultiPooling``, res5: K = 6 on the 7 x 7 map of a 224 px image -> 2048 x 2 x 2 = 8192
  values). Vectors are kept as they are.
"""
import logging
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine import dist
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar
from torch import nn

from .gather import gather_in_sample_order, sample_indices

STAGES = {'res2': 'layer1', 'res3': 'layer2', 'res4': 'layer3', 'res5': 'layer4'}
VECTORS = ('backbone', 'embedding')
LAYERS = tuple(STAGES) + VECTORS
Forward = Callable[[nn.Module, torch.Tensor], Dict[str, torch.Tensor]]


def forward_feature(model: nn.Module, x: torch.Tensor, feature: str) -> torch.Tensor:
    """(B, D) float32 CPU ``model.embed(x)`` (``'embedding'``) or the globally mean pooled
    last output of ``model.extract_feat(x)`` (``'backbone'``)."""
    if feature == 'embedding':
        out = model.embed(x)
    else:
        out = model.extract_feat(x)
        out = out[-1] if isinstance(out, (list, tuple)) else out
        out = out.mean(dim=(2, 3)) if out.dim() == 4 else out
    return out.flatten(1).float().cpu()


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


def forward_layers(model: nn.Module, x: torch.Tensor, layers: Sequence[str],
                   pool_size: int = 1, pool_kernel: Optional[int] = None
                   ) -> Dict[str, torch.Tensor]:
    """Pooled CPU features of ``layers`` from one forward pass (``embed`` when the
    embedding is asked for, else the backbone)."""
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


def _extract(model: nn.Module, dataloader, names: Sequence[str], forward: Forward,
             progress: bool, keep_here: bool = True
             ) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
    """The ``names`` features ``forward(model, x)`` gives for every batch of every rank, in
    sample order (:mod:`.gather`); every rank gathers every name, even from no batch."""
    model = model.module if is_model_wrapper(model) else model
    was_training = model.training
    model.eval()
    bar = ProgressBar(len(dataloader), file=sys.stderr) if (
        progress and dist.is_main_process()) else None
    local: Dict[str, List[torch.Tensor]] = {name: [] for name in names}
    idxs = []
    try:
        for data_batch in dataloader:
            data = model.data_preprocessor(data_batch, False)
            inputs = data['inputs']
            x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
            feats = forward(model, x)
            samples = data.get('data_samples')
            if samples is None and isinstance(data_batch, dict):
                samples = data_batch.get('data_samples')
            idxs.append(sample_indices(samples, len(x)))
            for name in names:
                local[name].append(feats[name])
            if bar is not None:
                bar.update()
    finally:
        model.train(was_training)
        if bar is not None:
            sys.stderr.write('\n')
    return gather_in_sample_order(local, idxs, keep_here)


@torch.no_grad()
def extract_embeddings(model: nn.Module, dataloader, feature: str = 'embedding',
                       progress: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """(N×D float32 CPU features, N int64 sample indices) of every sample of
    ``dataloader``, sorted by sample index and identical on every rank; ``feature`` is
    ``'embedding'`` or ``'backbone'`` (:func:`forward_feature`)."""
    if feature not in ('embedding', 'backbone'):
        raise ValueError(f"feature must be 'embedding' or 'backbone', got {feature!r}")
    feats, idx = _extract(model, dataloader, [feature],
                          lambda m, x: {feature: forward_feature(m, x, feature)}, progress)
    return feats[feature], idx


@torch.no_grad()
def extract_features(model: nn.Module, dataloader, layers: Sequence[str] = ('res5', ),
                     pool_size: int = 1, progress: bool = False,
                     all_ranks: bool = True,
                     pool_kernel: Optional[int] = None) -> Dict[str, np.ndarray]:
    """``{layer: (N, D) float32 array}`` for every sample of ``dataloader``'s dataset, in
    dataset order, plus ``'sample_idx'`` (N,) int64 (the data samples must carry it:
    PackInputs meta_keys). With ``all_ranks=False`` only the main process keeps the arrays
    (the others get ``{}``), which bounds host memory in big runs. ``pool_kernel`` replaces
    ``pool_size`` pooling by ``avg_pool2d(pool_kernel, stride 1)``.
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
    keep_here = all_ranks or dist.is_main_process()
    feats, idx = _extract(
        model, dataloader, layers,
        lambda m, x: forward_layers(m, x, layers, pool_size, pool_kernel), progress, keep_here)
    if not keep_here:
        return {}
    result = {'sample_idx': idx.numpy()}
    for name in layers:
        result[name] = feats.pop(name).numpy().astype(np.float32, copy=False)
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
