import math

import pytest
import torch

from selfemb.models.losses import neighbourhood_loss


def naive_loss(logits, indices, neighbours, anchor):
    """Super-AND eq. 10 term by term in float64, with an explicit softmax."""
    total = 0.0
    for b in range(logits.size(0)):
        p = torch.softmax(logits[b].double(), 0)
        members = {int(indices[b])}
        if anchor[b]:
            members |= {int(j) for j in neighbours[b] if j >= 0}
        total = total - torch.log(sum(p[j] for j in members))
    return total / logits.size(0)


def example(seed=0, b=6, n=20, k=2):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, n, generator=gen, dtype=torch.float64) * 3
    indices = torch.randperm(n, generator=gen)[:b]
    neighbours = torch.randint(0, n, (b, k), generator=gen)
    neighbours[neighbours == indices[:, None]] = -1  # never self
    neighbours[1, 1] = -1  # an anchor with a missing neighbour
    anchor = torch.tensor([True, True, False, True, False, False])
    return logits, indices, neighbours, anchor


def test_loss_and_gradient_match_naive_float64():
    logits, indices, neighbours, anchor = example()
    ours_in = logits.clone().requires_grad_()
    ref_in = logits.clone().requires_grad_()
    ours = neighbourhood_loss(ours_in, indices, neighbours, anchor)
    ref = naive_loss(ref_in, indices, neighbours, anchor)
    assert ours.dtype == torch.float64
    assert math.isclose(float(ours), float(ref), rel_tol=1e-12)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(ours_in.grad, ref_in.grad, rtol=1e-10, atol=1e-12)


def test_without_anchors_it_is_instance_discrimination():
    logits, indices, neighbours, _ = example(1)
    none = torch.zeros(len(indices), dtype=torch.bool)
    expected = torch.nn.functional.cross_entropy(logits, indices)
    assert torch.allclose(neighbourhood_loss(logits, indices, neighbours, none), expected)


def test_non_anchors_ignore_neighbours_and_self_counts_once():
    logits, indices, neighbours, anchor = example(2)
    base = neighbourhood_loss(logits, indices, neighbours, anchor)
    changed = neighbours.clone()
    changed[~anchor] = (changed[~anchor] + 1) % logits.size(1)
    assert torch.equal(neighbourhood_loss(logits, indices, changed, anchor), base)
    with_self = neighbours.clone()
    with_self[0, 1] = indices[0]  # listed as its own neighbour: still p_ii once
    expected = naive_loss(logits, indices, with_self, anchor)
    assert math.isclose(float(neighbourhood_loss(logits, indices, with_self, anchor)),
                        float(expected), rel_tol=1e-12)


def test_stable_for_large_logits_and_float32():
    logits, indices, neighbours, anchor = example(3)
    big = (logits * 1000).float().requires_grad_()  # exp would overflow in float32
    loss = neighbourhood_loss(big, indices, neighbours, anchor)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(big.grad).all()
    # a naive softmax underflows even in float64 here; float32 agrees with float64
    reference = neighbourhood_loss(logits * 1000, indices, neighbours, anchor)
    assert math.isclose(float(loss), float(reference), rel_tol=1e-4)


def test_bad_shapes_name_the_values():
    logits, indices, neighbours, anchor = example()
    with pytest.raises(ValueError, match=r'neighbours \(6, k\)'):
        neighbourhood_loss(logits, indices, neighbours[:3], anchor)
    with pytest.raises(ValueError, match='B x N'):
        neighbourhood_loss(logits[0], indices, neighbours, anchor)
