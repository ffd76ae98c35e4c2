import math

import pytest
import torch
import torch.nn.functional as F

from selfemb.models.losses import instance_spread_loss


def naive_isif(f: torch.Tensor, tau: float, detach_key: bool) -> torch.Tensor:
    """Eq. 7 of Ye et al. written out term by term (float64 loops)."""
    n = f.size(0)
    key = f.detach() if detach_key else f
    total = 0.0
    for i in range(n):
        partner = (i + n // 2) % n
        sims = [torch.exp(f[i] @ key[k] / tau) for k in range(n) if k != i]
        denom = sum(sims)
        total = total - torch.log(torch.exp(f[i] @ key[partner] / tau) / denom)
        for k in range(n):
            if k in (i, partner):
                continue
            p = torch.exp(f[i] @ key[k] / tau) / denom
            total = total - torch.log(1 - p)
    return total / n


@pytest.mark.parametrize('detach_key', [True, False])
@pytest.mark.parametrize('tau', [0.1, 0.5])
def test_matches_naive_reference_and_gradient(detach_key, tau):
    torch.manual_seed(0)
    base = torch.randn(12, 8, dtype=torch.float64)
    f1 = F.normalize(base, dim=1).requires_grad_()
    f2 = F.normalize(base, dim=1).requires_grad_()
    ours = instance_spread_loss(f1.double(), tau, detach_key)
    ref = naive_isif(f2, tau, detach_key)
    assert torch.allclose(ours.double(), ref, rtol=1e-5, atol=1e-6)
    ours.backward()
    ref.backward()
    assert torch.allclose(f1.grad, f2.grad, rtol=1e-4, atol=1e-6)


def test_detach_key_changes_gradient_not_value():
    torch.manual_seed(1)
    f = F.normalize(torch.randn(8, 16), dim=1)
    a, b = f.clone().requires_grad_(), f.clone().requires_grad_()
    la, lb = instance_spread_loss(a, 0.1, True), instance_spread_loss(b, 0.1, False)
    assert torch.allclose(la, lb)
    la.backward()
    lb.backward()
    assert not torch.allclose(a.grad, b.grad)


def test_perfect_views_of_orthogonal_instances_give_low_loss():
    eye = torch.eye(4)
    aligned = instance_spread_loss(torch.cat([eye, eye]), temperature=0.05)
    shuffled = instance_spread_loss(torch.cat([eye, eye.roll(1, 0)]), temperature=0.05)
    assert aligned < 0.01 < shuffled
    # B = 4 orthogonal pairs: P(partner) -> 1, every negative term -> 0
    assert math.isfinite(float(aligned))


@pytest.mark.parametrize('shape', [(3, 4), (2, 4), (8, )])
def test_bad_shapes_are_rejected(shape):
    with pytest.raises(ValueError, match='2B x D'):
        instance_spread_loss(torch.randn(*shape))


def naive_anchor_loss(anchors, keys, self_index, positive_index, tau):
    """Eq. 7 term by term for anchors scored against separate keys (float64 loops)."""
    total = 0.0
    for i in range(anchors.size(0)):
        s, pos = int(self_index[i]), int(positive_index[i])
        others = [k for k in range(keys.size(0)) if k != s]
        denom = sum(torch.exp(anchors[i] @ keys[k] / tau) for k in others)
        total = total - torch.log(torch.exp(anchors[i] @ keys[pos] / tau) / denom)
        for k in others:
            if k != pos:
                total = total - torch.log(1 - torch.exp(anchors[i] @ keys[k] / tau) / denom)
    return total / anchors.size(0)


def test_anchor_loss_matches_naive_reference_and_gradient():
    from selfemb.models.losses import instance_spread_anchor_loss
    torch.manual_seed(2)
    keys = F.normalize(torch.randn(10, 6, dtype=torch.float64), dim=1)
    self_index = torch.tensor([4, 5, 6, 7])
    positive_index = torch.tensor([6, 7, 4, 5])
    a1 = keys[self_index].clone().requires_grad_()
    a2 = keys[self_index].clone().requires_grad_()
    ours = instance_spread_anchor_loss(a1, keys, self_index, positive_index, 0.2)
    ref = naive_anchor_loss(a2, keys, self_index, positive_index, 0.2)
    assert torch.allclose(ours, ref, rtol=1e-10)
    ours.backward()
    ref.backward()
    assert torch.allclose(a1.grad, a2.grad, rtol=1e-8, atol=1e-12)


def test_anchor_loss_rejects_bad_indices():
    from selfemb.models.losses import instance_spread_anchor_loss
    keys = F.normalize(torch.randn(6, 4), dim=1)
    with pytest.raises(ValueError, match='own positive'):
        instance_spread_anchor_loss(keys[:2], keys, torch.tensor([0, 1]), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match=r'positive_index must lie in \[0, 6\)'):
        instance_spread_anchor_loss(keys[:2], keys, torch.tensor([0, 1]), torch.tensor([3, 6]))
