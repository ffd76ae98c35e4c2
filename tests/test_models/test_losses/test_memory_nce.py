import math

import torch
import torch.nn.functional as F

from selfemb.models.losses import estimate_log_z, memory_nce_loss, memory_softmax_loss


def test_softmax_loss_matches_naive():
    torch.manual_seed(0)
    bank = F.normalize(torch.randn(20, 6, dtype=torch.float64), dim=1)
    v = F.normalize(torch.randn(5, 6, dtype=torch.float64), dim=1)
    idx = torch.tensor([0, 3, 7, 19, 3])
    ours = memory_softmax_loss(v, bank, idx, temperature=0.1)
    ref = 0.0
    for b in range(5):
        scores = [math.exp(float(v[b] @ bank[j]) / 0.1) for j in range(20)]
        ref -= math.log(scores[idx[b]] / sum(scores))
    assert math.isclose(float(ours), ref / 5, rel_tol=1e-5)


def test_nce_loss_matches_naive():
    torch.manual_seed(0)
    n, k, tau = 50, 7, 0.07
    bank = F.normalize(torch.randn(n, 8, dtype=torch.float64), dim=1)
    v = F.normalize(torch.randn(4, 8, dtype=torch.float64), dim=1)
    idx = torch.tensor([1, 2, 3, 4])
    noise = torch.randint(0, n, (4, k))
    log_z = torch.tensor(math.log(n * 1.3), dtype=torch.float64)
    ours = memory_nce_loss(v, bank, idx, noise, log_z, tau)
    z, pn = math.exp(float(log_z)), 1.0 / n
    ref = 0.0
    for b in range(4):
        p = math.exp(float(v[b] @ bank[idx[b]]) / tau) / z
        ref -= math.log(p / (p + k * pn))
        for j in noise[b]:
            q = math.exp(float(v[b] @ bank[j]) / tau) / z
            ref -= math.log(1 - q / (q + k * pn))
    assert math.isclose(float(ours), ref / 4, rel_tol=1e-5)


def test_log_z_estimate_is_n_times_mean_exp():
    torch.manual_seed(0)
    bank = F.normalize(torch.randn(30, 4, dtype=torch.float64), dim=1)
    v = F.normalize(torch.randn(3, 4, dtype=torch.float64), dim=1)
    noise = torch.randint(0, 30, (3, 5))
    sims = torch.stack([bank[noise[b]] @ v[b] for b in range(3)])
    expected = math.log(30 * float(torch.exp(sims / 0.07).mean()))
    assert math.isclose(float(estimate_log_z(v, bank, noise, 0.07)), expected, rel_tol=1e-6)


def test_gradient_flows_to_features_only():
    bank = F.normalize(torch.randn(10, 4), dim=1).requires_grad_()
    v = F.normalize(torch.randn(2, 4), dim=1).requires_grad_()
    memory_softmax_loss(v, bank.detach(), torch.tensor([0, 1])).backward()
    assert v.grad is not None and bank.grad is None
