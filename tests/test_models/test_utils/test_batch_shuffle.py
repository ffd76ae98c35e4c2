"""Shuffle BN helpers (MoCo key encoder): batch_shuffle / batch_unshuffle."""
import pytest
import torch
import torch.distributed as dist
from torch import nn

from selfemb.models.utils import batch_shuffle, batch_unshuffle
from tests._dist_utils import run_in_processes

B, D = 4, 3


def encoder() -> nn.Module:
    """A key encoder whose output depends on the batch it sees (BatchNorm, train mode)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(D, 5), nn.BatchNorm1d(5)).train()


def global_batch(world: int) -> torch.Tensor:
    return torch.randn(world * B, D, generator=torch.Generator().manual_seed(1))


def _keys() -> dict:
    rank, world = dist.get_rank(), dist.get_world_size()
    x = global_batch(world)[rank * B:(rank + 1) * B]
    torch.manual_seed(10 + rank)  # ranks' RNG streams differ: rank 0's draw must win
    shuffled, perm = batch_shuffle(x)
    with torch.no_grad():
        keys = batch_unshuffle(encoder()(shuffled), perm)
    return dict(keys=keys, perm=perm, shuffled=shuffled)


@pytest.mark.dist
def test_two_ranks_encode_slices_of_one_permutation_and_unshuffle():
    ranks = run_in_processes(_keys, 2)
    perm = ranks[0]['perm']
    assert torch.equal(perm, ranks[1]['perm'])
    assert sorted(perm.tolist()) == list(range(2 * B)) and perm.tolist() != list(range(2 * B))
    x = global_batch(2)
    model = encoder()
    with torch.no_grad():  # reference: each rank's BN sees its slice of the permuted batch
        out = torch.cat([model(x[perm][r * B:(r + 1) * B]) for r in range(2)])
    reference = torch.empty_like(out)
    reference[perm] = out  # back to the original order
    for r in range(2):
        assert torch.equal(ranks[r]['shuffled'], x[perm][r * B:(r + 1) * B])
        torch.testing.assert_close(ranks[r]['keys'], reference[r * B:(r + 1) * B])
    with torch.no_grad():  # shuffle BN changes the keys (a test that can fail)
        plain = torch.cat([model(x[r * B:(r + 1) * B]) for r in range(2)])
    assert not torch.allclose(plain, reference)


def test_single_process_is_a_no_op():
    x = global_batch(1)
    state = torch.random.get_rng_state()
    shuffled, perm = batch_shuffle(x)
    assert shuffled is x and perm is None and batch_unshuffle(x, None) is x
    assert torch.equal(torch.random.get_rng_state(), state)
