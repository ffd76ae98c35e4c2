import math

import pytest
import torch
import torch.nn.functional as F

from selfemb.models.heads import MarginNCEHead
from selfemb.models.losses import margin_nce_loss

B, K, D = 4, 6, 8


def tensors(seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = F.normalize(torch.randn(B, D, generator=gen), dim=1)
    pos = F.normalize(torch.randn(B, D, generator=gen), dim=1)
    neg = F.normalize(torch.randn(B, K, D, generator=gen), dim=2)
    return q, pos, neg


def naive(q, pos, neg, margin, tau):
    """Eq. 5 written out in float64, one anchor at a time."""
    total = 0.0
    for i in range(q.size(0)):
        top = math.exp((float(q[i].double() @ pos[i].double()) - margin) / tau)
        rest = sum(math.exp(float(q[i].double() @ n.double()) / tau) for n in neg[i])
        total += -math.log(top / (top + rest))
    return total / q.size(0)


@pytest.mark.parametrize('margin', [0.0, 0.35, -0.5])
def test_matches_the_float64_reference(margin):
    q, pos, neg = tensors()
    got = margin_nce_loss(q, pos, neg, margin=margin, temperature=0.2)
    assert got.item() == pytest.approx(naive(q, pos, neg, margin, 0.2), rel=1e-5)


def test_zero_margin_is_infonce_value_and_gradient():
    q, pos, neg = tensors(1)
    q1, q2 = q.clone().requires_grad_(), q.clone().requires_grad_()
    loss = margin_nce_loss(q1, pos, neg, margin=0.0, temperature=0.1)
    logits = torch.cat([(q2 * pos).sum(1, keepdim=True), torch.einsum('bd,bkd->bk', q2, neg)], 1)
    info_nce = -(logits[:, 0] / 0.1 - torch.logsumexp(logits / 0.1, dim=1)).mean()
    torch.testing.assert_close(loss, info_nce)
    loss.backward()
    info_nce.backward()
    torch.testing.assert_close(q1.grad, q2.grad)


def test_margin_sign_moves_the_loss_and_shared_negatives_broadcast():
    q, pos, neg = tensors(2)
    base = margin_nce_loss(q, pos, neg, 0.0, 0.1)
    assert margin_nce_loss(q, pos, neg, 0.3, 0.1) > base > margin_nce_loss(q, pos, neg, -0.5, 0.1)
    shared = neg[0]
    torch.testing.assert_close(margin_nce_loss(q, pos, shared, 0.1, 0.1),
                               margin_nce_loss(q, pos, shared.expand(B, K, D), 0.1, 0.1))


def test_head_detaches_targets_and_checks_shapes():
    q, pos, neg = tensors(3)
    pos.requires_grad_()
    head = MarginNCEHead(margin=-0.5, temperature=0.2)
    loss = head.loss(q.requires_grad_(), pos, neg)
    loss.backward()
    assert pos.grad is None and q.grad is not None
    with pytest.raises(ValueError, match='B x K x D'):
        margin_nce_loss(q, pos, neg[:, :, :3])
    with pytest.raises(ValueError, match='temperature'):
        MarginNCEHead(temperature=0)
