"""Batch spherical k-means against a naive loop reference, errors, determinism, 2 ranks."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from selfemb.models.utils import centroids_from_labels, global_batch_kmeans, spherical_kmeans
from tests._dist_utils import run_in_processes


def naive_kmeans(x: np.ndarray, k: int, num_iters: int):
    """Plain-Python spherical k-means with the documented init and empty-cluster rule."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    n = len(x)
    centroids = np.stack([x[(j * n) // k] for j in range(k)])
    for _ in range(num_iters):
        labels = []
        for i in range(n):
            sims = [float(x[i] @ c) for c in centroids]
            labels.append(max(range(k), key=lambda j: (sims[j], -j)))
        own = [float(x[i] @ centroids[labels[i]]) for i in range(n)]
        order = sorted(range(n), key=lambda i: (own[i], i))
        taken = 0
        for cluster in range(k):
            if labels.count(cluster):
                continue
            while labels.count(labels[order[taken]]) <= 1:
                taken += 1
            labels[order[taken]] = cluster
            taken += 1
        centroids = np.stack([x[[i for i in range(n) if labels[i] == j]].sum(0) for j in range(k)])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    return centroids, np.array(labels)


@pytest.mark.parametrize('n, k, seed', [(40, 6, 0), (40, 17, 1), (30, 25, 2), (12, 12, 3)])
def test_matches_naive_reference(n, k, seed):
    x = torch.randn(n, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    centroids, labels = spherical_kmeans(x, k, num_iters=4)
    ref_c, ref_l = naive_kmeans(x.numpy(), k, 4)
    np.testing.assert_array_equal(labels.numpy(), ref_l)
    np.testing.assert_allclose(centroids.numpy(), ref_c, rtol=1e-5, atol=1e-6)


def test_separated_clusters_found_and_centroids_are_unit_means():
    gen = torch.Generator().manual_seed(1)
    centres = F.normalize(torch.randn(3, 16, generator=gen), dim=1) * 10
    x = torch.cat([c + 0.1 * torch.randn(10, 16, generator=gen) for c in centres])
    centroids, labels = spherical_kmeans(x, 3, num_iters=5)
    assert all(len(set(labels[i * 10:(i + 1) * 10].tolist())) == 1 for i in range(3))
    assert len(set(labels.tolist())) == 3
    xn = F.normalize(x, dim=1)
    for j in range(3):
        torch.testing.assert_close(centroids[j], F.normalize(xn[labels == j].sum(0), dim=0))


def test_empty_cluster_is_reseeded_with_the_farthest_point():
    # four copies of one point and one far point; k = 3 means a duplicate init -> an empty
    # cluster in the first assignment, refilled so every cluster is used
    x = torch.tensor([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 2 + [[-1.0, 0.1]])
    centroids, labels = spherical_kmeans(x, 3, num_iters=3)
    assert torch.bincount(labels, minlength=3).min() >= 1
    assert labels[6] != labels[0] and labels[4] == labels[5]


def test_empty_clusters_match_naive_reference_exactly():
    # one-hot rows: every similarity is exactly 0 or 1, so ties are exact in any summation
    # order. Init rows 0, 2, 5, 7 = e0, e0, e1, e1: clusters 1 and 3 start empty and take
    # the two farthest points (rows 8: e2 and 9: e3, similarity 0 to their centroid e0).
    x = torch.eye(4, dtype=torch.float64)[[0, 0, 0, 0, 0, 1, 1, 1, 2, 3]]
    centroids, labels = spherical_kmeans(x, 4, num_iters=3)
    assert labels.tolist() == [0, 0, 0, 0, 0, 2, 2, 2, 1, 3]
    ref_c, ref_l = naive_kmeans(x.numpy(), 4, 3)
    np.testing.assert_array_equal(labels.numpy(), ref_l)
    np.testing.assert_array_equal(centroids.numpy(), ref_c)
    assert torch.equal(centroids, torch.eye(4, dtype=torch.float64)[[0, 2, 1, 3]])


def test_k_equal_n_gives_each_point_its_own_cluster():
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(2))
    centroids, labels = spherical_kmeans(x, 5, 2)
    assert sorted(labels.tolist()) == list(range(5))


def test_bad_input_errors():
    with pytest.raises(ValueError, match='k=9 clusters from 8 samples'):
        spherical_kmeans(torch.randn(8, 4), 9)
    with pytest.raises(ValueError, match='N x D'):
        spherical_kmeans(torch.randn(8), 2)
    with pytest.raises(ValueError, match='num_iters'):
        spherical_kmeans(torch.randn(8, 4), 2, num_iters=0)


def test_deterministic_and_no_grad():
    x = torch.randn(32, 8, requires_grad=True)
    a, la = spherical_kmeans(x, 4)
    b, lb = spherical_kmeans(x, 4)
    assert torch.equal(a, b) and torch.equal(la, lb) and not a.requires_grad


def test_centroids_from_labels_rebuilds_kmeans_centroids_with_gradient():
    x = F.normalize(torch.randn(20, 5, generator=torch.Generator().manual_seed(4),
                                dtype=torch.float64), dim=1).requires_grad_()
    centroids, labels = spherical_kmeans(x, 4)
    rebuilt = centroids_from_labels(x, labels, 4)
    torch.testing.assert_close(rebuilt, centroids.double(), rtol=1e-6, atol=1e-6)
    assert rebuilt.requires_grad
    ref = torch.stack([F.normalize(x[labels == j].sum(0), dim=0) for j in range(4)])
    weights = torch.randn(4, 5, dtype=torch.float64)
    grad, = torch.autograd.grad((rebuilt * weights).sum(), x)
    ref_grad, = torch.autograd.grad((ref * weights).sum(), x)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match='3 labels for 20 rows'):
        centroids_from_labels(x, labels[:3], 4)


def _rank_kmeans(x_all: torch.Tensor):
    import torch.distributed as dist
    rank = dist.get_rank()
    centroids, labels = global_batch_kmeans(x_all[rank * 6:(rank + 1) * 6], 4, 3)
    return centroids, labels


@pytest.mark.dist
def test_global_batch_two_gloo_ranks_identical_centroids():
    x = torch.randn(12, 8, generator=torch.Generator().manual_seed(3))
    (c0, l0), (c1, l1) = run_in_processes(_rank_kmeans, 2, x)
    ref_c, ref_l = spherical_kmeans(x, 4, 3)
    assert torch.equal(c0, c1)
    torch.testing.assert_close(c0, ref_c)
    assert torch.equal(torch.cat([l0, l1]), ref_l)


def _rank_centroid_grad(x_all: torch.Tensor, weights: torch.Tensor):
    import torch.distributed as dist
    rank = dist.get_rank()
    x = x_all[rank * 6:(rank + 1) * 6].clone().requires_grad_()
    _, labels = global_batch_kmeans(x, 4, 3)
    centroids = centroids_from_labels(x, labels, 4, global_batch=True)
    # this rank's "loss" uses the shared centroids and its own rows
    (centroids * weights[rank]).sum().add((x * x).sum()).backward()
    return centroids.detach(), x.grad


@pytest.mark.dist
def test_global_batch_centroid_gradient_reaches_every_rank():
    gen = torch.Generator().manual_seed(5)
    x = F.normalize(torch.randn(12, 8, generator=gen, dtype=torch.float64), dim=1)
    weights = torch.randn(2, 4, 8, generator=gen, dtype=torch.float64)
    (c0, g0), (c1, g1) = run_in_processes(_rank_centroid_grad, 2, x, weights)
    ref_x = x.clone().requires_grad_()
    _, labels = spherical_kmeans(x, 4, 3)
    ref_c = centroids_from_labels(ref_x, labels, 4)
    # the sum of both ranks' losses: each rank's rows get both ranks' centroid terms
    ((ref_c * weights[0]).sum() + (ref_c * weights[1]).sum() + (ref_x * ref_x).sum()).backward()
    torch.testing.assert_close(c0, c1)
    torch.testing.assert_close(c0, ref_c.detach())
    torch.testing.assert_close(torch.cat([g0, g1]), ref_x.grad)
