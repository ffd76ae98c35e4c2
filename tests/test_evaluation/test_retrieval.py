"""NMI, Recall@K and CLD's model-selection score against hand-computed cases."""
import math

import numpy as np
import pytest

from selfemb.evaluation import (
    cld_model_selection_score,
    cross_view_top1,
    kmeans_labels,
    nmi_kmeans,
    recall_at_k,
)


def blobs(sizes, dim=8, seed=0):
    """Tight, far-apart clusters: blob b holds sizes[b] points near 10 * e_b."""
    rng = np.random.default_rng(seed)
    feats = [10 * np.eye(dim)[b] + 0.01 * rng.standard_normal((n, dim))
             for b, n in enumerate(sizes)]
    return np.concatenate(feats).astype(np.float32)


def test_recall_at_k_hand_case():
    # 0: nearest 1 (other label), then 3 (other), then 2 (same) -> hit at 3
    # 1: nearest 0 (other), then 3 (same) -> hit at 2; 2 and 3 mirror 0 and 1
    feats = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], np.float32)
    labels = np.array([0, 1, 0, 1])
    assert recall_at_k(feats, labels, ks=(1, 2, 3)) == {'R@1': 0.0, 'R@2': 50.0, 'R@3': 100.0}


def test_recall_at_k_excludes_query_and_matches_naive_when_chunked():
    rng = np.random.default_rng(1)
    feats, labels = rng.standard_normal((50, 6)), rng.integers(0, 4, 50)
    x = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1)
    for k in (1, 2, 4, 8):
        naive = 100 * np.mean([(labels[order[i, :k]] == labels[i]).any() for i in range(50)])
        got = recall_at_k(feats, labels, ks=(k, ), chunk_size=7)[f'R@{k}']
        assert got == pytest.approx(naive)
    # the query never retrieves itself: 2's neighbours are all of class 0 (0 and 1 tie)
    two = np.array([[1, 0], [1, 0], [0, 1]], np.float32)
    assert recall_at_k(two, [0, 0, 1], ks=(1, ))['R@1'] == pytest.approx(200 / 3)


def test_recall_at_k_rejects_bad_input():
    with pytest.raises(ValueError, match='between 1 and N - 1'):
        recall_at_k(np.eye(3), [0, 1, 2], ks=(3, ))
    with pytest.raises(ValueError, match='labels must have shape'):
        recall_at_k(np.eye(3), [0, 1])
    with pytest.raises(ValueError, match='NaN'):
        recall_at_k(np.full((3, 2), np.nan), [0, 1, 2])


def test_nmi_kmeans_hand_case():
    # three blobs, labels 0 0 | 1 1 | 1 1 (per pair of points): C determines Y, so
    # I(C;Y) = H(Y) and NMI = H(Y) / sqrt(H(Y) H(C)) = sqrt(H(Y) / H(C))
    feats = blobs([10, 10, 10])
    labels = np.repeat([0, 1, 1], 10)
    h_y = -(1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3))
    expected = math.sqrt(h_y / math.log(3))
    assert nmi_kmeans(feats, labels, k=3, seed=0, nredo=20) == pytest.approx(expected)
    assert nmi_kmeans(feats, np.repeat([2, 0, 1], 10), seed=0, nredo=20) == pytest.approx(1.0)
    with pytest.raises(ValueError, match='k=31 clusters'):
        nmi_kmeans(feats, labels, k=31)


def test_cld_score_hand_case():
    # one point per cluster (k = N) -> both views partition identically: NMI = 1;
    # f' swaps images 0 and 1, so only rows 2 and 3 retrieve their own view: R = 0.5
    f = np.eye(4, dtype=np.float32)
    result = cld_model_selection_score(f, f[[1, 0, 2, 3]], k=4)
    assert result == pytest.approx(dict(nmi=1.0, retrieval=0.5, score=0.5))
    assert cross_view_top1(f, f + 0.01) == 1.0


def test_cld_score_is_zero_when_the_views_cluster_independently():
    # rows 4..11 of view 2 swap blobs: view-2 clusters {0-3, 8-11} | {4-7, 12-15} are
    # independent of view-1 clusters {0-7} | {8-15} (NMI 0); rows 0-3 and 12-15 are
    # unchanged and retrieve themselves, rows 4-11 land in the other blob (R = 0.5)
    f = blobs([8, 8])
    g = f.copy()
    g[4:12, :2] = f[4:12, 1::-1]
    result = cld_model_selection_score(f, g, k=2, nredo=10)
    assert result['nmi'] == pytest.approx(0.0, abs=1e-6)
    assert result['retrieval'] == 0.5 and result['score'] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match='same shape'):
        cld_model_selection_score(f, g[:3], k=2)


def test_nmi_kmeans_clusters_directions_not_magnitudes():
    """k-means runs on L2-normalised features (the cosine space of R@K): classes that
    differ in direction but spread over three orders of magnitude still give NMI 1."""
    from sklearn.metrics import normalized_mutual_info_score
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 40)
    feats = (np.eye(8)[labels] + 0.05 * rng.standard_normal((160, 8))) * np.exp(
        rng.uniform(-3, 3, (160, 1)))
    assert nmi_kmeans(feats, labels) == pytest.approx(1.0)
    raw = normalized_mutual_info_score(labels, kmeans_labels(feats, 4),
                                       average_method='geometric')
    assert raw < 0.9  # clustering the raw vectors groups by magnitude
