"""The one faiss k-means of selfemb: ODCInitHook's initial clustering, NMI and CLD's
model-selection score. (CLD's per-batch k-means on the device is
:mod:`selfemb.models.utils.kmeans`.)"""
from typing import Optional

import numpy as np


def faiss_kmeans(features: np.ndarray, k: int, niter: int = 20, seed: int = 0,
                 nredo: int = 1, spherical: bool = False,
                 min_points_per_centroid: Optional[int] = 1) -> np.ndarray:
    """Cluster index (``N`` int64) of every row of ``N x D`` ``features`` after
    ``faiss.Kmeans`` on the CPU: ``k`` centroids, ``niter`` Lloyd iterations from a
    ``seed`` ed random initialisation, the best of ``nredo`` runs, ``spherical``
    L2-normalising the centroids. It trains on every point (faiss otherwise subsamples to
    256 points per centroid; the official ODC / InterCLR release lifts that cap too).
    ``min_points_per_centroid`` only sets when faiss warns of few points (``None``: its
    default, 39)."""
    try:
        import faiss
    except ImportError as err:
        raise ImportError('k-means needs faiss (pip install faiss-cpu)') from err
    x = np.ascontiguousarray(features, dtype=np.float32)
    if not 1 <= k <= len(x):
        raise ValueError(f'k={k} clusters must be between 1 and the number of samples '
                         f'({len(x)})')
    options = {} if min_points_per_centroid is None else dict(
        min_points_per_centroid=min_points_per_centroid)
    kmeans = faiss.Kmeans(x.shape[1], k, niter=niter, nredo=nredo, seed=seed,
                          spherical=spherical, verbose=False,
                          max_points_per_centroid=max(256, len(x)), **options)
    kmeans.train(x)
    _, assign = kmeans.index.search(x, 1)
    return assign[:, 0].astype(np.int64)
