"""CLD's cross-level loss and MoCo's queue InfoNCE against naive float64 references."""
import math

import pytest
import torch
import torch.nn.functional as F

from selfemb.models.losses import cross_level_loss, queue_infonce_loss
from selfemb.models.utils import spherical_kmeans


def naive_cld(g1, g2, c1, l1, c2, l2, t):
    """½ [mean_i -log softmax(g2_i · c1 / t)[l1_i] + mean_i -log softmax(g1_i · c2 / t)[l2_i]]."""
    def ce(g, c, lab):
        total = 0.0
        for i in range(len(g)):
            scores = [float(g[i] @ c[j]) / t for j in range(len(c))]
            total -= scores[lab[i]] - math.log(sum(math.exp(s) for s in scores))
        return total / len(g)
    return 0.5 * (ce(g2, c1, l1) + ce(g1, c2, l2))


def _views(b=12, d=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    g1 = F.normalize(torch.randn(b, d, generator=gen, dtype=torch.float64), dim=1)
    g2 = F.normalize(g1 + 0.3 * torch.randn(b, d, generator=gen, dtype=torch.float64), dim=1)
    return g1, g2


def test_value_matches_naive_reference_and_views_are_crossed():
    g1, g2 = _views()
    c1, l1 = spherical_kmeans(g1, 4)
    c2, l2 = spherical_kmeans(g2, 4)
    c1, c2 = c1.double(), c2.double()
    got = cross_level_loss(g1, g2, c1, l1, c2, l2, 0.2)
    assert got.item() == pytest.approx(naive_cld(g1, g2, c1, l1, c2, l2, 0.2), rel=1e-9)
    same_view = cross_level_loss(g1, g2, c2, l2, c1, l1, 0.2)  # not the crossed pairing
    assert got.item() != pytest.approx(same_view.item(), rel=1e-3)


def test_gradient_matches_float64_autograd_reference_and_centroids_are_detached():
    g1, g2 = _views(seed=1)
    c1, l1 = spherical_kmeans(g1, 3)
    c2, l2 = spherical_kmeans(g2, 3)
    c1 = c1.double().requires_grad_()
    c2 = c2.double().requires_grad_()
    a1, a2 = g1.clone().requires_grad_(), g2.clone().requires_grad_()
    cross_level_loss(a1, a2, c1, l1, c2, l2, 0.2).backward()
    assert c1.grad is None and c2.grad is None
    # hand-derived: d/dg of CE(g c^T / t, y) = (softmax - onehot) c / (t B), times ½
    def grad(g, c, y):
        p = torch.softmax(g @ c.detach().t() / 0.2, 1) - F.one_hot(y, c.size(0)).double()
        return 0.5 * p @ c.detach() / (0.2 * g.size(0))
    torch.testing.assert_close(a1.grad, grad(g1, c2, l2), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(a2.grad, grad(g2, c1, l1), rtol=1e-9, atol=1e-12)


def test_shape_mismatch_is_an_error():
    g1, g2 = _views()
    c, lab = spherical_kmeans(g1, 2)
    with pytest.raises(ValueError, match='different shapes'):
        cross_level_loss(g1, g2[:5], c, lab, c, lab)


def test_queue_infonce_matches_naive_reference():
    gen = torch.Generator().manual_seed(2)
    q = F.normalize(torch.randn(4, 8, generator=gen, dtype=torch.float64), dim=1)
    k = F.normalize(torch.randn(4, 8, generator=gen, dtype=torch.float64), dim=1)
    queue = F.normalize(torch.randn(10, 8, generator=gen, dtype=torch.float64), dim=1)
    ref = 0.0
    for i in range(4):
        pos = math.exp(float(q[i] @ k[i]) / 0.2)
        neg = sum(math.exp(float(q[i] @ queue[j]) / 0.2) for j in range(10))
        ref -= math.log(pos / (pos + neg)) / 4
    assert queue_infonce_loss(q, k, queue, 0.2).item() == pytest.approx(ref, rel=1e-5)
