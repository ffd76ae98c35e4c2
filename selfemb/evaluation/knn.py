"""Weighted k-nearest-neighbour evaluation of embeddings and distributed feature extraction.

Weighted kNN of Wu et al., "Unsupervised Feature Learning via Non-Parametric Instance
Discrimination", CVPR 2018: with L2-normalised features, a query q is classified by its
k most similar training samples N_k(q) under cosine similarity s_i = <q, f_i>; class c
scores  w_c = sum_{i in N_k(q), y_i = c} exp(s_i / sigma).  Classes are ranked by w_c
(equal scores: lower class index first); a prediction is correct at top-n when the true
class got at least one vote and is ranked among the first n (classes without any vote are
never predicted).
"""
import sys
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine import dist
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar

ArrayLike = Union[torch.Tensor, np.ndarray]
_MAX_BLOCK = 1 << 27  # default chunking bounds each query×train similarity block (floats)
_GATHER_ROWS = 1 << 16  # rows per all_gather call, bounds communication buffers


def _faiss():
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def _check_pair(feats: ArrayLike, labels: ArrayLike,
                name: str) -> Tuple[torch.Tensor, torch.Tensor]:
    feats, labels = torch.as_tensor(feats), torch.as_tensor(labels)
    if feats.dim() != 2 or feats.shape[0] == 0 or feats.shape[1] == 0:
        raise ValueError(f'{name}_feats must be a non-empty (N, D) array, '
                         f'got shape {tuple(feats.shape)}')
    if labels.dim() != 1 or labels.shape[0] != feats.shape[0]:
        raise ValueError(f'{name}_labels must have shape ({feats.shape[0]},) to match '
                         f'{name}_feats, got {tuple(labels.shape)}')
    if not torch.isfinite(feats).all():
        raise ValueError(f'{name}_feats contain NaN or inf')
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f'{name}_labels must be integers, got {labels.dtype}')
    if int(labels.min()) < 0:
        raise ValueError(f'{name}_labels must be >= 0, got {int(labels.min())}')
    return feats.float(), labels.long()


def weighted_knn(train_feats: ArrayLike, train_labels: ArrayLike, test_feats: ArrayLike,
                 test_labels: ArrayLike, k: int = 200, temperature: float = 0.1,
                 num_classes: Optional[int] = None, chunk_size: Optional[int] = None,
                 backend: str = 'auto') -> Dict[str, float]:
    """Weighted kNN accuracy (Wu et al. 2018) of ``test_feats`` against ``train_feats``.

    Args:
        train_feats, test_feats: (N, D) and (M, D) features, L2-normalised here.
        train_labels, test_labels: (N,) and (M,) integer class labels.
        k: neighbours per query; ``k > N`` is an error (not silently clamped).
        temperature: sigma of the vote weight exp(sim / sigma).
        num_classes: defaults to 1 + the largest label seen.
        chunk_size: queries per chunk; default bounds the query×train block to 2**27 floats.
        backend: 'faiss' (IndexFlatIP on CPU), 'torch' (matmul + topk on the device of
            ``train_feats``) or 'auto' (faiss for CPU tensors when installed, else torch).

    Returns:
        ``dict(knn_top1=..., knn_top5=...)`` in percent (top-5 is top-min(5, C)).
    """
    train_feats, train_labels = _check_pair(train_feats, train_labels, 'train')
    test_feats, test_labels = _check_pair(test_feats, test_labels, 'test')
    (n, d), m = train_feats.shape, test_feats.shape[0]
    if test_feats.shape[1] != d:
        raise ValueError(f'feature sizes differ: train_feats has D={d}, test_feats has '
                         f'D={test_feats.shape[1]}')
    if not 1 <= k <= n:
        raise ValueError(f'k={k} must be between 1 and the number of training samples ({n})')
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    max_label = int(max(train_labels.max(), test_labels.max()))
    num_classes = max_label + 1 if num_classes is None else int(num_classes)
    if max_label >= num_classes:
        raise ValueError(f'label {max_label} out of range for num_classes={num_classes}')
    if backend not in ('auto', 'faiss', 'torch'):
        raise ValueError(f"backend must be 'auto', 'faiss' or 'torch', got {backend!r}")
    faiss = _faiss() if backend != 'torch' else None
    if backend == 'faiss' and faiss is None:
        raise ImportError("backend='faiss' needs faiss (pip install faiss-cpu)")
    use_faiss = faiss is not None and (backend == 'faiss' or train_feats.device.type == 'cpu')
    device = torch.device('cpu') if use_faiss else train_feats.device

    train = F.normalize(train_feats.to(device), dim=1)
    test = F.normalize(test_feats.to(device), dim=1)
    train_labels, test_labels = train_labels.to(device), test_labels.to(device)
    if use_faiss:
        index = faiss.IndexFlatIP(d)
        index.add(np.ascontiguousarray(train.numpy()))
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
    chunk = chunk_size or max(1, _MAX_BLOCK // max(n, num_classes))
    topn, classes = min(5, num_classes), torch.arange(num_classes, device=device)
    correct = torch.zeros(2, dtype=torch.int64, device=device)  # top-1, top-n
    for start in range(0, m, chunk):
        query, target = test[start:start + chunk], test_labels[start:start + chunk, None]
        if use_faiss:
            sims, idx = index.search(np.ascontiguousarray(query.numpy()), k)
            sims, idx = torch.from_numpy(sims), torch.from_numpy(idx)
        else:
            sims, idx = (query @ train.T).topk(k, dim=1)
        nb_labels = train_labels[idx]
        # float64 and a per-query shift (same for every class) keep exp() finite for small sigma
        sims = sims.double()
        weights = ((sims - sims.max(dim=1, keepdim=True).values) / temperature).exp()
        scores = sims.new_zeros(len(query), num_classes).scatter_add_(1, nb_labels, weights)
        voted = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, nb_labels, True)
        true_score = scores.gather(1, target)
        rank = ((scores > true_score) | ((scores == true_score) & (classes < target))).sum(1)
        hit = voted.gather(1, target).squeeze(1)
        correct += torch.stack([(hit & (rank < 1)).sum(), (hit & (rank < topn)).sum()])
    top1, top5 = correct.tolist()
    return dict(knn_top1=100.0 * top1 / m, knn_top5=100.0 * top5 / m)


def _gather_rows(local: torch.Tensor) -> torch.Tensor:
    """All-gather the rows of a CPU tensor whose length may differ across ranks."""
    if dist.get_world_size() == 1:
        return local
    width = local.shape[1] if local.dim() == 2 else 0
    meta = dist.all_gather(torch.tensor([local.shape[0], width]))
    sizes, width = [int(t[0]) for t in meta], max(int(t[1]) for t in meta)
    if local.dim() == 2 and local.shape[1] != width:  # an empty shard does not know D
        local = local.new_zeros(0, width)
    padded = torch.cat([local, local.new_zeros(max(sizes) - len(local), *local.shape[1:])])
    blocks = [dist.all_gather(padded[s:s + _GATHER_ROWS])
              for s in range(0, len(padded), _GATHER_ROWS)]
    return torch.cat([torch.cat([b[r] for b in blocks])[:n] for r, n in enumerate(sizes)])


def _sample_indices(data_samples, batch_size: int) -> torch.Tensor:
    if data_samples is None or len(data_samples) != batch_size:
        raise ValueError('extract_embeddings needs one data sample per input with its sample_idx '
                         '(pack it with PackInputs, meta_keys including "sample_idx")')
    idx = [s.get('sample_idx') if isinstance(s, dict) else getattr(s, 'sample_idx', None)
           for s in data_samples]
    if any(i is None for i in idx):
        raise ValueError('a data sample has no "sample_idx"; add it to PackInputs(meta_keys=...)')
    return torch.as_tensor([int(i) for i in idx], dtype=torch.int64)


def _forward(model: torch.nn.Module, x: torch.Tensor, feature: str) -> torch.Tensor:
    if feature == 'embedding':
        out = model.embed(x)
    else:
        out = model.extract_feat(x)
        out = out[-1] if isinstance(out, (list, tuple)) else out
        out = out.mean(dim=(2, 3)) if out.dim() == 4 else out
    return out.flatten(1).float().cpu()


@torch.no_grad()
def extract_embeddings(model: torch.nn.Module, dataloader, feature: str = 'embedding',
                       progress: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """Features of every sample of ``dataloader``, gathered from all ranks.

    Each rank runs its sampler's shard through ``model.data_preprocessor`` and
    ``model.embed`` (``feature='embedding'``) or the globally pooled last output of
    ``model.extract_feat`` (``feature='backbone'``), in eval mode (the previous mode is
    restored). Returns (N×D float32 CPU features, N int64 sample indices) sorted by
    sample index, duplicates from sampler padding dropped; identical on every rank.
    """
    if feature not in ('embedding', 'backbone'):
        raise ValueError(f"feature must be 'embedding' or 'backbone', got {feature!r}")
    model = model.module if is_model_wrapper(model) else model
    was_training = model.training
    model.eval()
    show = progress and dist.is_main_process()
    bar = ProgressBar(len(dataloader), file=sys.stderr) if show else None
    feats, idxs = [], []
    try:
        for data_batch in dataloader:
            data = model.data_preprocessor(data_batch, False)
            inputs = data['inputs']
            x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
            out = _forward(model, x, feature)
            samples = data.get('data_samples')
            if samples is None and isinstance(data_batch, dict):
                samples = data_batch.get('data_samples')
            idxs.append(_sample_indices(samples, len(out)))
            feats.append(out)
            if bar is not None:
                bar.update()
    finally:
        model.train(was_training)
        if bar is not None:
            sys.stderr.write('\n')
    local_feats = torch.cat(feats) if feats else torch.zeros(0, 0)
    local_idx = torch.cat(idxs) if idxs else torch.zeros(0, dtype=torch.int64)
    all_feats, all_idx = _gather_rows(local_feats), _gather_rows(local_idx)
    all_idx, order = torch.sort(all_idx, stable=True)
    keep = torch.ones_like(all_idx, dtype=torch.bool)
    keep[1:] = all_idx[1:] != all_idx[:-1]
    return all_feats[order][keep].contiguous(), all_idx[keep].contiguous()
