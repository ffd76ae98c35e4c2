import pytest
import torch
import torch.nn.functional as F

from selfemb.models.memories import NeighbourhoodMemory, SimpleMemory


def sized(n=6, k=2, seed=0) -> NeighbourhoodMemory:
    mem = NeighbourhoodMemory(feat_dim=4, num_neighbours=k)
    mem.setup(n, seed=seed)
    return mem


def test_setup_sizes_every_buffer():
    mem = sized()
    ref = SimpleMemory(feat_dim=4)
    ref.setup(6, seed=0)
    assert torch.equal(mem.bank, ref.bank)  # the NPID bank, unchanged
    assert mem.neighbours.shape == (6, 2) and mem.neighbours.dtype == torch.long
    assert (mem.neighbours == -1).all()
    assert mem.anchor.shape == (6, ) and not mem.anchor.any()
    assert mem.round_idx.dim() == 0 and int(mem.round_idx) == 0
    assert set(mem.state_dict()) == {'bank', 'neighbours', 'anchor', 'round_idx'}


def test_set_neighbourhoods_and_lookup():
    mem = sized()
    anchor = torch.tensor([True, False, True, False, False, False])
    neighbours = torch.tensor([[1, 2], [0, 3], [5, -1], [2, 1], [0, 1], [4, 3]])
    mem.set_neighbourhoods(2, anchor, neighbours)
    assert int(mem.round_idx) == 2
    nb, an = mem.neighbourhood(torch.tensor([2, 1]))
    assert nb.tolist() == [[5, -1], [0, 3]] and an.tolist() == [True, False]


def test_set_neighbourhoods_rejects_bad_input():
    mem = sized()
    with pytest.raises(ValueError, match=r'neighbours \(6, 2\)'):
        mem.set_neighbourhoods(1, torch.zeros(6, dtype=torch.bool), torch.zeros(6, 1).long())
    with pytest.raises(ValueError, match=r'\[-1, 6\)'):
        mem.set_neighbourhoods(1, torch.zeros(6, dtype=torch.bool), torch.full((6, 2), 6))
    with pytest.raises(RuntimeError, match='MemoryInitHook'):
        NeighbourhoodMemory().neighbourhood(torch.tensor([0]))
    with pytest.raises(ValueError, match='num_neighbours'):
        NeighbourhoodMemory(num_neighbours=0)


def test_update_is_simple_memory_update():
    mem, ref = sized(), SimpleMemory(feat_dim=4)
    ref.setup(6, seed=0)
    feats = F.normalize(torch.randn(2, 4), dim=1)
    for m in (mem, ref):
        m.update(torch.tensor([1, 4]), feats)
        m.flush()
    assert torch.equal(mem.bank, ref.bank)


def test_checkpoint_round_trip_adoption_and_size_check():
    src = sized()
    src.set_neighbourhoods(1, torch.tensor([True] * 3 + [False] * 3),
                           torch.tensor([[1, 2], [0, 2], [0, 1], [4, 5], [3, 5], [3, 4]]))
    fresh = NeighbourhoodMemory(feat_dim=4, num_neighbours=2)  # unsized: adopts the sizes
    fresh.load_state_dict(src.state_dict())
    for key, value in src.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    assert fresh.num_samples == 6 and fresh.anchor.dtype == torch.bool
    same = sized(seed=5)  # the resume path: setup, then load
    same.load_state_dict(src.state_dict())
    assert int(same.round_idx) == 1 and torch.equal(same.neighbours, src.neighbours)
    with pytest.raises(RuntimeError, match='incompatible checkpoint'):
        sized(n=7).load_state_dict(src.state_dict())
