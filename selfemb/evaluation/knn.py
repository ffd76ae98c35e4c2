"""Weighted k-nearest-neighbour evaluation: of feature arrays and of a model on two loaders.

Weighted kNN of Wu et al., "Unsupervised Feature Learning via Non-Parametric Instance
Discrimination", CVPR 2018: with L2-normalised features, a query q is classified by its
k most similar training samples N_k(q) under cosine similarity s_i = <q, f_i>; class c
scores  w_c = sum_{i in N_k(q), y_i = c} exp(s_i / sigma).  Classes are ranked by w_c
(equal scores: lower class index first); a prediction is correct at top-n when the true
class got at least one vote and is ranked among the first n (classes without any vote are
never predicted).
"""
import logging
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import print_log

from selfemb.utils.rank0 import on_rank0

from .features import extract_embeddings

ArrayLike = Union[torch.Tensor, np.ndarray]
_MAX_BLOCK = 1 << 27  # default chunking bounds each query×train similarity block (floats)


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


def _labels_of(dataset, sample_idx: torch.Tensor, split: str) -> torch.Tensor:
    gt = np.asarray(dataset.get_gt_labels())
    if len(sample_idx) == 0 or int(sample_idx.max()) >= len(gt):
        raise ValueError(f'the kNN {split} loader gave sample indices outside its dataset '
                         f'{type(dataset).__name__} of {len(gt)} samples')
    if len(sample_idx) != len(gt):
        print_log(f'kNN {split}: {len(sample_idx)} of {len(gt)} samples were extracted '
                  '(does the sampler drop samples?)', logger='current', level=logging.WARNING)
    return torch.as_tensor(gt[sample_idx.numpy()]).long()


def check_knn_loaders(train_loader, val_loader, k: int) -> None:
    """Fail fast, before any extraction, on a k larger than the reference set or on
    datasets without ``get_gt_labels()``."""
    for split, loader in (('train', train_loader), ('val', val_loader)):
        if not hasattr(loader.dataset, 'get_gt_labels'):
            raise TypeError(f'the kNN {split} dataset {type(loader.dataset).__name__} has no '
                            'get_gt_labels()')
    n = len(train_loader.dataset)
    if not 1 <= k <= n:
        raise ValueError(f'k={k} must be between 1 and the number of kNN reference samples '
                         f'({n} in {type(train_loader.dataset).__name__})')


def knn_evaluate(model: torch.nn.Module, train_loader, val_loader, k: int = 200,
                 temperature: float = 0.1, feature: str = 'embedding',
                 num_classes: Optional[int] = None, progress: bool = False) -> Dict[str, float]:
    """Weighted-kNN accuracy of ``model``: ``train_loader`` gives the reference set,
    ``val_loader`` the queries (labels from ``dataset.get_gt_labels()``).

    Every rank extracts its shard (:func:`extract_embeddings`), rank 0 runs
    :func:`weighted_knn` (on the GPU when there is one) and broadcasts the metrics, or its
    error, so every rank returns ``dict(knn_top1=..., knn_top5=...)`` or raises the same.
    """
    check_knn_loaders(train_loader, val_loader, k)
    train_feats, train_idx = extract_embeddings(model, train_loader, feature, progress)
    val_feats, val_idx = extract_embeddings(model, val_loader, feature, progress)
    return on_rank0(_rank0_knn, train_feats, train_idx, val_feats, val_idx, train_loader,
                    val_loader, k, temperature, num_classes)


def _rank0_knn(train_feats, train_idx, val_feats, val_idx, train_loader, val_loader, k,
               temperature, num_classes) -> Dict[str, float]:
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    return weighted_knn(
        train_feats.to(device), _labels_of(train_loader.dataset, train_idx, 'train'),
        val_feats.to(device), _labels_of(val_loader.dataset, val_idx, 'val'),
        k=k, temperature=temperature, num_classes=num_classes)
