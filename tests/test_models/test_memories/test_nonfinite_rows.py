"""A NaN / Inf feature never enters a memory: its row keeps the old entry, the others update."""
import pytest
import torch
import torch.nn.functional as F

from selfemb.models.memories import KeyQueue, NeighbourhoodMemory, ODCMemory, SimpleMemory

BAD = [float('nan'), float('inf'), -float('inf')]


@pytest.mark.parametrize('memory_type', [SimpleMemory, NeighbourhoodMemory, ODCMemory])
@pytest.mark.parametrize('bad', BAD)
def test_bank_keeps_old_row_for_nonfinite_feature(memory_type, bad):
    kwargs = dict(num_clusters=2) if memory_type is ODCMemory else {}
    mem = memory_type(feat_dim=4, momentum=0.5, **kwargs)
    mem.setup(6, seed=0)
    old = mem.bank.clone()
    feats = F.normalize(torch.randn(3, 4, generator=torch.Generator().manual_seed(1)), dim=1)
    feats[1, 2] = bad  # one entry of the row of sample 3
    mem.update(torch.tensor([0, 3, 5]), feats)
    mem.flush()
    assert torch.isfinite(mem.bank).all()
    assert torch.equal(mem.bank[3], old[3])
    for row, f in ((0, feats[0]), (5, feats[2])):
        assert torch.allclose(mem.bank[row], F.normalize(0.5 * old[row] + 0.5 * f, dim=0))
    assert torch.equal(mem.bank[[1, 2, 4]], old[[1, 2, 4]])


def test_odc_relabels_kept_row_from_its_old_entry():
    mem = ODCMemory(feat_dim=2, momentum=0.0, num_clusters=2)
    mem.setup(4)
    mem.init_clusters(torch.tensor([0, 0, 1, 1]),
                      torch.tensor([[1.0, 0.0], [1.0, 0.1], [-1.0, 0.0], [-1.0, 0.1]]))
    mem.update(torch.tensor([0, 2]), torch.tensor([[float('nan'), 0.0], [1.0, 0.0]]))
    mem.flush()
    assert torch.isfinite(mem.bank).all() and torch.isfinite(mem.centroids).all()
    assert torch.equal(mem.bank[0], torch.tensor([1.0, 0.0]))
    assert mem.labels.tolist()[:3] == [0, 0, 0]  # row 2 moved next to cluster 0; row 0 stays


@pytest.mark.parametrize('bad', BAD)
def test_key_queue_keeps_old_key_for_nonfinite_key(bad):
    queue = KeyQueue(length=5, feat_dim=2)
    old = queue.keys.clone()
    keys = torch.tensor([[1.0, 0.0], [bad, 0.0], [0.0, 1.0]])
    queue.push(keys)
    assert torch.equal(queue.keys[0], keys[0]) and torch.equal(queue.keys[2], keys[2])
    assert torch.equal(queue.keys[1], old[1])
    assert torch.equal(queue.keys[3:], old[3:]) and int(queue.ptr) == 3
