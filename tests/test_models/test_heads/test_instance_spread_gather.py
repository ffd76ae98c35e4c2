"""ISIF with keys all-gathered across ranks equals the loss over the concatenated batch."""
import pytest
import torch
import torch.nn.functional as F

from selfemb.models.heads import InstanceSpreadHead
from tests._dist_utils import run_in_processes
from tests.test_models.test_losses.test_instance_spread import naive_anchor_loss

B, D, WORLD, TAU = 3, 5, 2, 0.2


def global_batch() -> torch.Tensor:
    """``WORLD`` ranks' ``[view1; view2]`` blocks, stacked in rank order (float64)."""
    torch.manual_seed(0)
    return F.normalize(torch.randn(WORLD * 2 * B, D, dtype=torch.float64), dim=1)


def _rank_loss_and_grad():
    import torch.distributed as dist
    rank = dist.get_rank()
    local = global_batch()[rank * 2 * B:(rank + 1) * 2 * B].clone().requires_grad_()
    loss = InstanceSpreadHead(TAU, detach_key=True, gather_keys=True).spread_loss(local[:B],
                                                                          local[B:])
    loss.backward()
    return loss.detach(), local.grad


def test_gathered_loss_equals_concatenated_batch_restricted_to_rank_anchors():
    results = run_in_processes(_rank_loss_and_grad, WORLD)
    feats = global_batch()
    n = 2 * B
    total = 0.0
    for rank, (loss, grad) in enumerate(results):
        rows = torch.arange(rank * n, (rank + 1) * n)
        partner = rank * n + (torch.arange(n) + B) % n  # the other view, same rank block
        anchors = feats[rows].clone().requires_grad_()
        ref = naive_anchor_loss(anchors, feats, rows, partner, TAU)  # mean over rank's anchors
        ref.backward()
        assert torch.allclose(loss, ref.detach(), rtol=1e-10)
        assert torch.allclose(grad, anchors.grad, rtol=1e-8, atol=1e-12)
        total = total + ref.detach()
    # the mean of the rank losses is eq. 7 over the whole 2BW batch
    whole = naive_anchor_loss(feats, feats, torch.arange(WORLD * n),
                              torch.cat([r * n + (torch.arange(n) + B) % n
                                         for r in range(WORLD)]), TAU)
    assert torch.allclose(total / WORLD, whole, rtol=1e-10)


def test_single_process_gather_is_the_plain_loss():
    f = global_batch()[:2 * B]
    plain = InstanceSpreadHead(TAU).spread_loss(f[:B], f[B:])
    assert torch.equal(InstanceSpreadHead(TAU, gather_keys=True).spread_loss(f[:B], f[B:]),
                       plain)


def test_gather_needs_detached_keys():
    with pytest.raises(ValueError, match='gather_keys=True needs detach_key=True'):
        InstanceSpreadHead(detach_key=False, gather_keys=True)
