"""CLD's cross-level loss and MoCo's queue InfoNCE against naive float64 references."""
import math

import pytest
import torch
import torch.nn.functional as F

from selfemb.models.losses import cross_level_loss, margin_nce_loss
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


def test_gradient_with_detached_centroids_matches_hand_derived_reference():
    g1, g2 = _views(seed=1)
    c1, l1 = spherical_kmeans(g1, 3)
    c2, l2 = spherical_kmeans(g2, 3)
    c1 = c1.double().requires_grad_()
    c2 = c2.double().requires_grad_()
    a1, a2 = g1.clone().requires_grad_(), g2.clone().requires_grad_()
    cross_level_loss(a1, a2, c1, l1, c2, l2, 0.2, detach_centroids=True).backward()
    assert c1.grad is None and c2.grad is None
    # hand-derived: d/dg of CE(g c^T / t, y) = (softmax - onehot) c / (t B), times ½
    def grad(g, c, y):
        p = torch.softmax(g @ c.detach().t() / 0.2, 1) - F.one_hot(y, c.size(0)).double()
        return 0.5 * p @ c.detach() / (0.2 * g.size(0))
    torch.testing.assert_close(a1.grad, grad(g1, c2, l2), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(a2.grad, grad(g2, c1, l1), rtol=1e-9, atol=1e-12)


def test_centroids_get_gradient_by_default():
    g1, g2 = _views(seed=1)
    c1, l1 = spherical_kmeans(g1, 3)
    c2, l2 = spherical_kmeans(g2, 3)
    c1 = c1.double().requires_grad_()
    c2 = c2.double().requires_grad_()
    cross_level_loss(g1, g2, c1, l1, c2, l2, 0.2).backward()
    assert c1.grad.abs().sum() > 0 and c2.grad.abs().sum() > 0


def _naive_centroids(g, lab, k):
    """M_j = normalise(Σ_{i: lab_i = j} g_i), from float64 torch scalars (differentiable)."""
    rows = []
    for j in range(k):
        total = sum(g[i] for i in range(len(g)) if lab[i] == j)
        rows.append(total / torch.sqrt((total * total).sum()))
    return rows


def _naive_ce(g, c, lab, t):
    """mean_i -log softmax_j(g_i · c_j / t)[lab_i], one sample at a time."""
    total = 0.0
    for i in range(len(g)):
        scores = torch.stack([(g[i] * cj).sum() / t for cj in c])
        total = total - (scores[lab[i]] - torch.log(torch.exp(scores).sum()))
    return total / len(g)


@pytest.mark.parametrize('detach', [False, True])
def test_head_loss_and_gradient_match_naive_float64_reference(detach):
    """Default: gradient through M and M' (official); detach: centroids as constants."""
    from selfemb.models.heads import CLDHead
    g1, g2 = _views(b=10, d=6, seed=4)
    head = CLDHead(num_groups=3, temperature=0.2, num_iters=3, detach_centroids=detach)
    a1, a2 = g1.clone().requires_grad_(), g2.clone().requires_grad_()
    loss = head.loss(a1, a2)
    loss.backward()
    _, l1 = spherical_kmeans(g1, 3, 3)
    _, l2 = spherical_kmeans(g2, 3, 3)
    r1, r2 = g1.clone().requires_grad_(), g2.clone().requires_grad_()
    c1, c2 = _naive_centroids(r1, l1, 3), _naive_centroids(r2, l2, 3)
    if detach:
        c1, c2 = [c.detach() for c in c1], [c.detach() for c in c2]
    ref = 0.5 * (_naive_ce(r2, c1, l1, 0.2) + _naive_ce(r1, c2, l2, 0.2))
    ref.backward()
    # detached, the head uses the k-means' own centroids, computed in float32
    rtol, atol = (1e-6, 1e-7) if detach else (1e-9, 1e-12)
    assert loss.item() == pytest.approx(ref.item(), rel=rtol)
    torch.testing.assert_close(a1.grad, r1.grad, rtol=rtol, atol=atol)
    torch.testing.assert_close(a2.grad, r2.grad, rtol=rtol, atol=atol)


def test_centroid_gradient_changes_the_feature_gradient():
    from selfemb.models.heads import CLDHead
    g1, g2 = _views(b=10, d=6, seed=4)
    grads = []
    for detach in (False, True):
        a1 = g1.clone().requires_grad_()
        CLDHead(num_groups=3, num_iters=3, detach_centroids=detach).loss(a1, g2).backward()
        grads.append(a1.grad)
    assert not torch.allclose(grads[0], grads[1])


def test_shape_mismatch_is_an_error():
    g1, g2 = _views()
    c, lab = spherical_kmeans(g1, 2)
    with pytest.raises(ValueError, match='different shapes'):
        cross_level_loss(g1, g2[:5], c, lab, c, lab)


def test_infonce_against_a_queue_is_margin_nce_with_margin_0():
    """CLDm's instance loss: MarginNCE with m = 0 and shared K x D negatives."""
    gen = torch.Generator().manual_seed(2)
    q = F.normalize(torch.randn(4, 8, generator=gen, dtype=torch.float64), dim=1)
    k = F.normalize(torch.randn(4, 8, generator=gen, dtype=torch.float64), dim=1)
    queue = F.normalize(torch.randn(10, 8, generator=gen, dtype=torch.float64), dim=1)
    ref = 0.0
    for i in range(4):
        pos = math.exp(float(q[i] @ k[i]) / 0.2)
        neg = sum(math.exp(float(q[i] @ queue[j]) / 0.2) for j in range(10))
        ref -= math.log(pos / (pos + neg)) / 4
    assert margin_nce_loss(q, k, queue, 0.0, 0.2).item() == pytest.approx(ref, rel=1e-5)


def _naive_release_clustering(g, k, num_iters):
    """The official code's k-means, one scalar at a time (float64): first k rows as init,
    squared Euclidean argmin (first minimum), plain means with the count of an empty
    cluster taken as 1; the final centroids rebuilt from the live rows (differentiable)."""
    n, d = g.shape
    cents = [[float(g[j, e]) for e in range(d)] for j in range(k)]
    for _ in range(num_iters):
        labels = []
        for i in range(n):
            dists = [sum((float(g[i, e]) - cents[j][e]) ** 2 for e in range(d))
                     for j in range(k)]
            labels.append(dists.index(min(dists)))
        cents = []
        for j in range(k):
            members = [i for i in range(n) if labels[i] == j]
            cents.append([sum(float(g[i, e]) for i in members) / max(len(members), 1)
                          for e in range(d)])
    rows = []
    for j in range(k):
        members = [g[i] for i in range(n) if labels[i] == j]
        rows.append(sum(members) / len(members) if members else torch.zeros_like(g[0]))
    return rows, labels


@pytest.mark.parametrize('duplicate,iters', [(False, 3), (True, 1)])
def test_release_centroids_match_naive_official_formula(duplicate, iters):
    """centroids='release': loss and gradient of the official k-means + mean centroids;
    ``duplicate`` makes the first two rows equal, so cluster 1 is empty (zero centroid)."""
    from selfemb.models.heads import CLDHead
    g1, g2 = _views(b=10, d=6, seed=4)
    if duplicate:
        g1[1] = g1[0]
    head = CLDHead(num_groups=3, temperature=0.2, num_iters=iters, centroids='release')
    a1, a2 = g1.clone().requires_grad_(), g2.clone().requires_grad_()
    loss = head.loss(a1, a2)
    loss.backward()
    r1, r2 = g1.clone().requires_grad_(), g2.clone().requires_grad_()
    c1, l1 = _naive_release_clustering(r1, 3, iters)
    c2, l2 = _naive_release_clustering(r2, 3, iters)
    if duplicate:
        assert 1 not in l1 and float(c1[1].abs().sum()) == 0.0
    ref = 0.5 * (_naive_ce(r2, c1, l1, 0.2) + _naive_ce(r1, c2, l2, 0.2))
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-9)
    torch.testing.assert_close(a1.grad, r1.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(a2.grad, r2.grad, rtol=1e-9, atol=1e-12)
    centroids, labels = head.cluster(g1)
    assert labels.tolist() == l1
    assert (centroids.norm(dim=1) < 1).all()  # plain means: shorter than unit rows
    assert (centroids[1].abs().sum() == 0) == duplicate


def test_release_option_leaves_the_default_unchanged():
    from selfemb.models.heads import CLDHead
    g1, g2 = _views(b=10, d=6, seed=4)
    default = CLDHead(num_groups=3, num_iters=3).loss(g1, g2)
    explicit = CLDHead(num_groups=3, num_iters=3, centroids='normalised').loss(g1, g2)
    release = CLDHead(num_groups=3, num_iters=3, centroids='release').loss(g1, g2)
    _, l1 = spherical_kmeans(g1, 3, 3)
    _, l2 = spherical_kmeans(g2, 3, 3)
    r1, r2 = g1.clone(), g2.clone()
    ref = 0.5 * (_naive_ce(r2, _naive_centroids(r1, l1, 3), l1, 0.2) +
                 _naive_ce(r1, _naive_centroids(r2, l2, 3), l2, 0.2))
    assert torch.equal(default, explicit)
    assert default.item() == pytest.approx(ref.item(), rel=1e-9)
    assert release.item() != pytest.approx(default.item(), rel=1e-3)
    with pytest.raises(ValueError, match="centroids must be 'normalised' or 'release'"):
        CLDHead(centroids='plain')
