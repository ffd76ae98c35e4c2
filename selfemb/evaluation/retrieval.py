"""Embedding quality without a classifier: k-means NMI and Recall@K.

Both are the unseen-category metrics of ISIF (Ye et al., CVPR 2019, Sec. 4.2, following
Song et al. 2016): every test image queries all the other test images by cosine
similarity (R@K), and the test set is clustered by k-means with one cluster per class
(NMI). The same two numbers, computed against a second view instead of the labels, make
CLD's unsupervised model-selection score (:mod:`selfemb.evaluation.model_selection`).
"""
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from .kmeans import faiss_kmeans

ArrayLike = Union[np.ndarray, torch.Tensor]
_MAX_BLOCK = 1 << 26  # similarity entries per chunk


def _as_features(features: ArrayLike, name: str = 'features') -> np.ndarray:
    feats = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor)
                       else features, dtype=np.float32)
    if feats.ndim != 2 or feats.shape[0] == 0 or feats.shape[1] == 0:
        raise ValueError(f'{name} must be a non-empty (N, D) array, got shape {feats.shape}')
    if not np.isfinite(feats).all():
        raise ValueError(f'{name} contain NaN or inf')
    return np.ascontiguousarray(feats)


def _as_labels(labels: ArrayLike, n: int, name: str = 'labels') -> np.ndarray:
    labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f'{name} must have shape ({n},), got {labels.shape}')
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f'{name} must be integers, got {labels.dtype}')
    return labels.astype(np.int64)


def kmeans_labels(features: ArrayLike, k: int, seed: int = 0, niter: int = 20,
                  nredo: int = 1, spherical: bool = False,
                  normalize: bool = False) -> np.ndarray:
    """Cluster index of every row after faiss k-means (``k`` centroids, ``niter`` Lloyd
    iterations from a seeded random initialisation, the best of ``nredo`` runs;
    ``spherical`` L2-normalises the centroids, ``normalize`` the rows first): the checked
    input of :func:`~selfemb.evaluation.kmeans.faiss_kmeans`."""
    feats = _as_features(features)
    if normalize:
        feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    return faiss_kmeans(feats, k, niter=niter, seed=seed, nredo=nredo, spherical=spherical,
                        min_points_per_centroid=None)


def nmi_kmeans(features: ArrayLike, labels: ArrayLike, k: Optional[int] = None,
               seed: int = 0, niter: int = 20, nredo: int = 1) -> float:
    """Normalised mutual information between k-means clusters C of the L2-normalised
    ``features`` (the metric space of the cosine R@K; ISIF's embeddings are unit vectors)
    and ``labels`` Y:  NMI = I(C; Y) / sqrt(H(C) H(Y)).

    Geometric normalisation: ISIF's official unseen evaluation calls sklearn's
    ``normalized_mutual_info_score`` with its default, on Python 2.7 (so sklearn <= 0.20,
    whose default is 'geometric'; 'arithmetic' became the default in 0.22), and the
    geometric form is the one of Song et al. 2016 cited for the metric. ``k`` defaults
    to the number of distinct labels; ``seed``, ``niter`` and ``nredo`` go to
    :func:`kmeans_labels`. Returns a value in [0, 1].
    """
    from sklearn.metrics import normalized_mutual_info_score
    feats = _as_features(features)
    labels = _as_labels(labels, len(feats))
    k = len(np.unique(labels)) if k is None else int(k)
    clusters = kmeans_labels(feats, k, seed=seed, niter=niter, nredo=nredo, normalize=True)
    return float(normalized_mutual_info_score(labels, clusters, average_method='geometric'))


def _nearest(query: torch.Tensor, gallery: torch.Tensor, kmax: int,
             exclude_self: bool, chunk_size: Optional[int]) -> torch.Tensor:
    """Indices of the ``kmax`` most cosine-similar gallery rows of every query row."""
    n = len(gallery)
    chunk = chunk_size or max(1, _MAX_BLOCK // n)
    out = []
    for start in range(0, len(query), chunk):
        sims = query[start:start + chunk] @ gallery.T
        if exclude_self:
            rows = torch.arange(len(sims))
            sims[rows, rows + start] = -float('inf')
        out.append(sims.topk(kmax, dim=1).indices)
    return torch.cat(out)


def recall_at_k(features: ArrayLike, labels: ArrayLike, ks: Sequence[int] = (1, 2, 4, 8),
                chunk_size: Optional[int] = None) -> Dict[str, float]:
    """Recall@K (Song et al. 2016; ISIF Sec. 4.2): the percentage of queries with at least
    one same-label sample among their K nearest neighbours. Every sample queries all the
    others under cosine similarity; the query itself is excluded. Computed in chunks of
    ``chunk_size`` queries (default: at most 2**26 similarities per chunk).

    Returns ``{'R@1': ..., 'R@2': ...}`` in percent.
    """
    feats = _as_features(features)
    labels = torch.from_numpy(_as_labels(labels, len(feats)))
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1 or ks[-1] > len(feats) - 1:
        raise ValueError(f'every K in {ks} must be between 1 and N - 1 = {len(feats) - 1}')
    x = F.normalize(torch.from_numpy(feats), dim=1)
    idx = _nearest(x, x, ks[-1], True, chunk_size)
    hits = (labels[idx] == labels[:, None]).cumsum(1) > 0
    return {f'R@{k}': 100.0 * hits[:, k - 1].float().mean().item() for k in ks}


def cross_view_top1(features: ArrayLike, features_other: ArrayLike,
                    chunk_size: Optional[int] = None) -> float:
    """Fraction of rows i whose cosine-nearest row of ``features_other`` is row i itself
    (top-1 instance retrieval across two views of the same images), in [0, 1]."""
    a, b = _as_features(features), _as_features(features_other, 'features_other')
    if a.shape != b.shape:
        raise ValueError(f'the two feature sets must have the same shape, got {a.shape} '
                         f'and {b.shape}')
    a, b = (F.normalize(torch.from_numpy(x), dim=1) for x in (a, b))
    nearest = _nearest(a, b, 1, False, chunk_size).reshape(-1)
    return (nearest == torch.arange(len(a))).float().mean().item()
