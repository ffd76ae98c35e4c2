"""The memories' per-step updates: static shapes, no host synchronisation, and the same
results as the deduplicating / host-branching code they replace."""
import math

import pytest
import torch
import torch.nn.functional as F

from selfemb.models.memories import KeyQueue, ODCMemory, PseudoLabelMemory, SimpleMemory
from selfemb.models.memories.simple_memory import first_occurrence, first_sources
from selfemb.utils.sync_guard import HostSyncError, sync_guard


@pytest.mark.parametrize('seed', range(5))
def test_first_sources_match_first_occurrence(seed):
    indices = torch.randint(0, 6, (12, ), generator=torch.Generator().manual_seed(seed))
    with sync_guard('cpu'):
        source, is_first = first_sources(indices)
    for pos, value in enumerate(indices.tolist()):  # naive: scan for the first equal value
        assert source[pos] == indices.tolist().index(value)
    assert sorted(torch.nonzero(is_first).squeeze(1).tolist()) == sorted(
        first_occurrence(indices).tolist())


def test_bank_update_with_repeated_rows_equals_the_deduplicated_update():
    indices = torch.tensor([4, 1, 4, 0, 1, 4])
    feats = F.normalize(torch.randn(6, 3, generator=torch.Generator().manual_seed(0)), dim=1)
    mem, ref = SimpleMemory(feat_dim=3), SimpleMemory(feat_dim=3)
    mem.setup(5, seed=1)
    ref.setup(5, seed=1)
    with sync_guard('cpu'):
        mem.update(indices, feats)
        mem.flush()
    keep = first_occurrence(indices)
    ref.update(indices[keep], feats[keep])
    ref.flush()
    assert torch.equal(mem.bank, ref.bank)


def test_pseudo_label_record_is_sync_free_first_occurrence_wins():
    memory = PseudoLabelMemory(num_classes=4)
    memory.setup(6, seed=0)
    with sync_guard('cpu'):
        memory.record(torch.tensor([2, 5, 2, 5]), torch.tensor([1, 3, 0, 2]))
    assert memory.predictions.tolist() == [-1, -1, 1, -1, -1, 3]


def test_key_queue_push_keeps_the_pointer_on_the_device():
    queue = KeyQueue(length=5, feat_dim=2)
    keys = F.normalize(torch.randn(7, 2), dim=1)
    with sync_guard('cpu'):
        queue.push(keys[:3])
        queue.push(keys[3:])
    assert torch.equal(queue.keys[[3, 4, 0, 1, 2]], keys[[3, 4, 5, 6, 2]])
    assert int(queue.ptr) == 2


def unit(degrees):
    rad = torch.tensor([math.radians(d) for d in degrees])
    return torch.stack([rad.cos(), rad.sin()], dim=1)


def odc(degrees, labels, k, **kwargs) -> ODCMemory:
    mem = ODCMemory(feat_dim=2, momentum=0.0, num_clusters=k, **kwargs)
    mem.setup(len(degrees), seed=0)
    mem.init_clusters(torch.tensor(labels), unit(degrees))
    return mem


def test_odc_flush_skips_the_small_cluster_read_while_the_bound_allows():
    # clusters of 4: after a flush of 1 row each still has >= 3 = min_cluster members
    mem = odc([0, 5, 10, 15, 90, 95, 100, 105], [0] * 4 + [1] * 4, 2, min_cluster=3)
    assert mem.known_nonempty() and mem.is_initialized
    with sync_guard('cpu'):
        mem.update(torch.tensor([0]), unit([92]))
        mem.flush()  # relabel + small-cluster check, all on the device
    assert mem.labels.tolist() == [1, 0, 0, 0, 1, 1, 1, 1]
    # cluster 0 may now be below 3 members: the next flush must read, and refill
    mem.update(torch.tensor([1]), unit([93]))
    with pytest.raises(HostSyncError):
        with sync_guard('cpu'):
            mem.flush()


def test_odc_refill_after_the_bound_runs_out_is_the_unbounded_refill():
    degrees, labels = [0, 5, 10, 15, 90, 95, 100, 105, 200, 205], [0] * 4 + [1] * 4 + [2] * 2
    batches = [([0], [92]), ([1], [93]), ([8], [3]), ([2], [94])]
    bounded = odc(degrees, labels, 3, min_cluster=2)
    fresh = odc(degrees, labels, 3, min_cluster=2)
    for rows, angles in batches:
        for mem in (bounded, fresh):
            mem.update(torch.tensor(rows), unit(angles))
            if mem is fresh:
                mem._min_size = 0  # forget the bound: read every flush, as before
            mem.flush()
        assert torch.equal(bounded.labels, fresh.labels)
        assert torch.equal(bounded.centroids, fresh.centroids)
    assert min(bounded.cluster_sizes().tolist()) >= 2


def test_odc_host_state_follows_the_checkpoint():
    mem = odc([0, 5, 90, 95], [0, 0, 1, 1], 2)
    mem.update(torch.tensor([1]), unit([7]))
    state = mem.state_dict()  # flushes: one update
    fresh = ODCMemory(feat_dim=2, num_clusters=2)
    fresh.setup(4)
    assert not fresh.is_initialized
    fresh.load_state_dict(state)
    assert fresh.is_initialized and fresh._num_updates == 1 and not fresh.known_nonempty()
