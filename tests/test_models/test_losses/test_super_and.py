import math

import pytest
import torch

from selfemb.models.losses import augmentation_loss, ue_weight, uniform_entropy_loss


def naive_augmentation(s1: torch.Tensor, s2: torch.Tensor, tau: float) -> torch.Tensor:
    """Eq. 2 + 13–14 as the official Criterion runs them: relationship vectors
    r = s / ||s|| of both views, ISIF's loss over the 2B rows, key side detached."""
    rows = [r / torch.sqrt(sum(v * v for v in r)) for r in torch.cat([s1, s2])]
    n = len(rows)
    total = 0.0
    for i in range(n):
        partner = (i + n // 2) % n
        e = {k: torch.exp(rows[i] @ rows[k].detach() / tau) for k in range(n) if k != i}
        denom = sum(e.values())
        total = total - torch.log(e[partner] / denom)
        for k in e:
            if k != partner:
                total = total - torch.log(1 - e[k] / denom)
    return total / n


def naive_entropy(logits: torch.Tensor, indices: torch.Tensor, self_logit) -> torch.Tensor:
    """Eq. 11 row by row: softmax over the (masked) logits, entropy, mean over rows."""
    total = 0.0
    for row, own in zip(logits, indices.tolist()):
        terms = []
        for j in range(row.numel()):
            if j == own and self_logit == -math.inf:
                continue  # excluded from the softmax, as in eq. 11
            value = row[j] if (j != own or self_logit is None) else torch.tensor(
                self_logit, dtype=row.dtype)
            terms.append(value)
        exps = [torch.exp(t) for t in terms]
        z = sum(exps)
        total = total - sum((e / z) * torch.log(e / z) for e in exps)
    return total / logits.size(0)


@pytest.mark.parametrize('tau', [0.1, 0.5])
def test_augmentation_loss_matches_naive_reference_and_gradient(tau):
    torch.manual_seed(0)
    s = torch.randn(2, 5, 20, dtype=torch.float64) * 4
    a = [s[0].clone().requires_grad_(), s[1].clone().requires_grad_()]
    b = [s[0].clone().requires_grad_(), s[1].clone().requires_grad_()]
    ours = augmentation_loss(a[0], a[1], tau)
    ref = naive_augmentation(b[0], b[1], tau)
    assert torch.allclose(ours, ref, rtol=1e-8, atol=1e-10)
    ours.backward()
    ref.backward()
    for x, y in zip(a, b):
        assert torch.allclose(x.grad, y.grad, rtol=1e-6, atol=1e-10)


def test_augmentation_loss_is_scale_free_and_rewards_invariance():
    torch.manual_seed(1)
    s = torch.randn(4, 32)
    # relationship vectors are normalised: scaling the logits (i.e. tau of the bank) is moot
    assert torch.allclose(augmentation_loss(s, s), augmentation_loss(3 * s, 3 * s), atol=1e-5)
    assert augmentation_loss(s, s) < augmentation_loss(s, s.roll(1, 0))
    with pytest.raises(ValueError, match=r'\(4, 32\) and \(4, 31\)'):
        augmentation_loss(s, s[:, :31])


@pytest.mark.parametrize('self_logit', [-10.0, -math.inf, None, 3.0])
def test_uniform_entropy_matches_naive_reference_and_gradient(self_logit):
    torch.manual_seed(2)
    logits = torch.randn(6, 9, dtype=torch.float64) * 3
    indices = torch.tensor([0, 8, 3, 3, 5, 1])
    a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    ours = uniform_entropy_loss(a, indices, self_logit)
    ref = naive_entropy(b, indices, self_logit)
    assert torch.allclose(ours, ref, rtol=1e-10, atol=1e-12)
    ours.backward()
    ref.backward()
    assert torch.isfinite(a.grad).all()
    assert torch.allclose(a.grad, b.grad, rtol=1e-8, atol=1e-12)
    if self_logit is not None:  # the own logit is replaced: it gets no gradient
        assert (a.grad[torch.arange(6), indices] == 0).all()


def test_uniform_entropy_sign_and_bounds():
    n = 7
    idx = torch.arange(3)
    flat = torch.zeros(3, n)  # uniform over the other n - 1 entries: maximal entropy
    assert torch.allclose(uniform_entropy_loss(flat, idx, -math.inf),
                          torch.tensor(math.log(n - 1)))
    peaked = flat.clone()
    peaked[torch.arange(3), idx + 1] = 50.0  # one clear neighbour: entropy ~ 0
    assert uniform_entropy_loss(peaked, idx, -math.inf) < 1e-6
    # minimising it moves mass onto the nearest other entry (the "attraction")
    x = torch.tensor([[5.0, 1.0, 0.5, 0.0]], requires_grad=True)
    uniform_entropy_loss(x, torch.tensor([0]), -math.inf).backward()
    assert x.grad[0, 1] < 0 < x.grad[0, 3]


def test_uniform_entropy_errors():
    x = torch.randn(3, 5)
    with pytest.raises(ValueError, match=r'\[0, 5\), got 0\.\.5'):
        uniform_entropy_loss(x, torch.tensor([0, 1, 5]))
    with pytest.raises(ValueError, match=r'M x N logits and M indices'):
        uniform_entropy_loss(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='self_logit'):
        uniform_entropy_loss(x, torch.tensor([0, 1, 2]), math.inf)


def test_ue_weight_schedule():
    assert [ue_weight(t) for t in (0, 79, 80, 159, 160, 199)] == [0, 0, 0.2, 0.2, 0.4, 0.4]
    assert ue_weight(9, step=4, factor=0.5) == 1.0
    with pytest.raises(ValueError, match='step=0'):
        ue_weight(3, step=0)
    with pytest.raises(ValueError, match='epoch_in_round=-1'):
        ue_weight(-1)
