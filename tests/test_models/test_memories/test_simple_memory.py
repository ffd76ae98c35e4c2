import pytest
import torch
import torch.nn.functional as F

from selfemb.models.memories import SimpleMemory
from selfemb.models.memories.simple_memory import first_occurrence
from tests._dist_utils import run_in_processes


def test_setup_is_seeded_and_normalised():
    a, b = SimpleMemory(feat_dim=8), SimpleMemory(feat_dim=8)
    a.setup(10, seed=3)
    b.setup(10, seed=3)
    assert a.bank.shape == (10, 8)
    assert torch.equal(a.bank, b.bank)
    assert torch.allclose(a.bank.norm(dim=1), torch.ones(10))


def test_update_rule_weights_the_old_entry():
    mem = SimpleMemory(feat_dim=4, momentum=0.75)
    mem.setup(6, seed=0)
    old = mem.bank.clone()
    feats = F.normalize(torch.randn(2, 4), dim=1)
    mem.update(torch.tensor([1, 4]), feats)
    assert torch.equal(mem.bank, old)  # queued until flushed
    mem.flush()
    for row, f in zip([1, 4], feats):
        assert torch.allclose(mem.bank[row], F.normalize(0.75 * old[row] + 0.25 * f, dim=0))
    untouched = [0, 2, 3, 5]
    assert torch.equal(mem.bank[untouched], old[untouched])


def test_duplicate_indices_take_first_occurrence():
    assert first_occurrence(torch.tensor([5, 2, 5, 2, 9])).tolist() == [1, 0, 4]
    mem = SimpleMemory(feat_dim=2, momentum=0.0)
    mem.setup(3)
    mem.update(torch.tensor([1, 1]), torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    mem.flush()
    assert torch.allclose(mem.bank[1], torch.tensor([1.0, 0.0]))


def test_unsized_bank_errors_and_bad_momentum():
    with pytest.raises(RuntimeError, match='MemoryInitHook'):
        SimpleMemory().update(torch.tensor([0]), torch.randn(1, 128))
    with pytest.raises(ValueError, match='momentum'):
        SimpleMemory(momentum=1.0)


def test_checkpoint_of_other_size_is_an_error_unsized_adopts_it():
    src = SimpleMemory(feat_dim=4)
    src.setup(5)
    fresh = SimpleMemory(feat_dim=4)
    fresh.load_state_dict(src.state_dict())
    assert torch.equal(fresh.bank, src.bank) and fresh.num_samples == 5
    other = SimpleMemory(feat_dim=4)
    other.setup(7)
    with pytest.raises(RuntimeError, match='incompatible checkpoint'):
        other.load_state_dict(src.state_dict())


def _update_on_each_rank():
    rank = torch.distributed.get_rank()
    mem = SimpleMemory(feat_dim=4, momentum=0.5)
    mem.setup(8, seed=0)
    gen = torch.Generator().manual_seed(100 + rank)  # every rank has its own batch
    feats = F.normalize(torch.randn(2, 4, generator=gen), dim=1)
    idx = torch.tensor([2 * rank, 2 * rank + 1])
    mem.update(idx, feats)
    return mem.state_dict()['bank']  # saving flushes the queued update


def test_all_gathered_update_in_two_gloo_processes():
    banks = run_in_processes(_update_on_each_rank, 2)
    assert torch.equal(banks[0], banks[1])
    # the same update applied by one process to the concatenated batch
    ref = SimpleMemory(feat_dim=4, momentum=0.5)
    ref.setup(8, seed=0)
    feats = torch.cat([
        F.normalize(torch.randn(2, 4, generator=torch.Generator().manual_seed(100 + r)), dim=1)
        for r in range(2)
    ])
    ref.update(torch.arange(4), feats)
    ref.flush()
    assert torch.allclose(banks[0], ref.bank)
    assert torch.equal(banks[0][4:], ref.bank[4:])
