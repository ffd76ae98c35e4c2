import math

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from selfemb.models.memories import KeyQueue, ODCMemory
from selfemb.models.utils.clustering import nearest_centroid
from tests._dist_utils import run_in_processes


def unit(degrees):
    rad = torch.tensor([math.radians(d) for d in degrees])
    return torch.stack([rad.cos(), rad.sin()], dim=1)


def memory_on(features: torch.Tensor, labels, num_clusters: int, **kwargs) -> ODCMemory:
    mem = ODCMemory(feat_dim=features.size(1), momentum=0.0, num_clusters=num_clusters, **kwargs)
    mem.setup(features.size(0), seed=0)
    mem.init_clusters(torch.tensor(labels), features)
    return mem


def test_init_averages_centroids_and_is_checked():
    feats = unit([0, 10, 80, 90])
    mem = memory_on(feats, [0, 0, 1, 1], 2)
    assert bool(mem.initialized) and mem.labels.tolist() == [0, 0, 1, 1]
    torch.testing.assert_close(mem.centroids, torch.stack([feats[:2].mean(0), feats[2:].mean(0)]))
    with pytest.raises(ValueError, match='in \\[0, 2\\)'):
        mem.init_clusters(torch.tensor([0, 0, 2, 1]))
    with pytest.raises(ValueError, match='exceeds the 3 training samples'):
        ODCMemory(feat_dim=2, num_clusters=4).setup(3)


def test_batch_rows_are_relabelled_and_centroids_re_averaged_every_interval():
    feats = unit([0, 10, 20, 70, 80, 90])
    mem = memory_on(feats, [0, 0, 0, 1, 1, 1], 2, interval=2)
    old_centroids = mem.centroids.clone()
    mem.update(torch.tensor([0]), unit([85]))  # momentum 0: the row becomes the feature
    mem.flush()
    assert mem.labels.tolist() == [1, 0, 0, 1, 1, 1]  # nearest centroid, at once
    assert float(mem.label_change) == 1.0
    assert torch.equal(mem.centroids, old_centroids)  # 1 flush < interval
    mem.update(torch.tensor([5]), unit([15]))
    mem.flush()
    assert mem.labels.tolist() == [1, 0, 0, 1, 1, 0] and int(mem.num_updates) == 2
    bank = mem.bank
    torch.testing.assert_close(mem.centroids[0], bank[[1, 2, 5]].mean(0))
    torch.testing.assert_close(mem.centroids[1], bank[[0, 3, 4]].mean(0))


def test_relabelling_is_euclidean_nearest_not_largest_dot_product():
    centroids = torch.tensor([[2.0, 0.0], [0.6, 0.6]])
    x = unit([30])  # dot: 1.73 vs 0.82 -> 0 ; distance: 1.13 vs 0.24 -> 1
    assert nearest_centroid(x, centroids).tolist() == [1]


def test_empty_cluster_takes_the_far_half_of_the_largest():
    feats = unit([0, 50, 60, 70, 180, 190])
    mem = memory_on(feats, [0, 0, 0, 0, 1, 1], 3)
    # cluster 0's mean is at ~46 deg, its farthest member at 0 deg: the half on that side
    # (0 and 50 deg) moves to the empty cluster 2
    assert mem.labels.tolist() == [2, 2, 0, 0, 1, 1]
    torch.testing.assert_close(mem.centroids[2], feats[:2].mean(0))
    torch.testing.assert_close(mem.centroids[0], feats[2:4].mean(0))
    assert mem.cluster_sizes().tolist() == [2, 2, 2]


def test_small_clusters_are_dissolved_then_refilled():
    feats = unit([0, 5, 10, 15, 90, 95, 100, 200])
    mem = memory_on(feats, [0, 0, 0, 0, 1, 1, 1, 2], 3, min_cluster=2)
    # the lone 200-deg row joins its nearest big cluster (1: ~95 deg), cluster 2 then
    # takes half of the largest (now 0 and 1 both have 4; the first, 0, is split)
    assert mem.labels[7] == 1
    assert mem.cluster_sizes().tolist() == [2, 4, 2]
    assert set(torch.nonzero(mem.labels == 2).squeeze(1).tolist()) <= {0, 1, 2, 3}


def test_small_cluster_is_dissolved_every_iteration_between_centroid_updates():
    feats = unit([0, 10, 20, 90, 100, 110, 200, 210])
    labels = [0, 0, 0, 1, 1, 1, 2, 2]
    # centroids every 100 flushes; small clusters (< 2 members) every flush
    mem = memory_on(feats, labels, 3, interval=100, min_cluster=2)
    old = mem.centroids.clone()
    mem.update(torch.tensor([0, 6]), unit([5, 105]))  # row 6 leaves cluster 2 for 1
    mem.flush()
    assert int(mem.num_updates) == 1
    # cluster 2 kept only row 7 (210 deg): dissolved into cluster 1 (nearest by the
    # current centroids), then refilled with the far half of the now largest cluster 1
    assert mem.labels[:3].tolist() == [0, 0, 0] and mem.labels[7] == 2
    assert mem.cluster_sizes().tolist() == [3, 3, 2]
    bank = mem.bank
    for c in (1, 2):  # the clusters whose members changed are re-averaged ...
        torch.testing.assert_close(mem.centroids[c], bank[mem.labels == c].mean(0))
    # ... the others keep their centroid until the next centroid update
    assert torch.equal(mem.centroids[0], old[0])
    assert not torch.allclose(mem.centroids[0], bank[:3].mean(0))

    # with small clusters handled every 2nd flush only, cluster 2 stays small after one
    lazy = memory_on(feats, labels, 3, interval=100, min_cluster=2, small_cluster_interval=2)
    lazy.update(torch.tensor([0, 6]), unit([5, 105]))
    lazy.flush()
    assert lazy.cluster_sizes().tolist() == [3, 4, 1] and torch.equal(lazy.centroids, old)
    with pytest.raises(ValueError, match='small_cluster_interval=0'):
        ODCMemory(feat_dim=2, num_clusters=3, small_cluster_interval=0)


def test_min_cluster_times_clusters_must_fit_the_data():
    with pytest.raises(ValueError, match='num_clusters=4 x min_cluster=20 exceeds the 50'):
        ODCMemory(feat_dim=2, num_clusters=4, min_cluster=20).setup(50)
    ODCMemory(feat_dim=2, num_clusters=4, min_cluster=20).setup(80)


def test_state_round_trips_through_state_dict():
    feats = F.normalize(torch.randn(12, 4, generator=torch.Generator().manual_seed(0)), dim=1)
    mem = memory_on(feats, [i % 3 for i in range(12)], 3)
    mem.update(torch.tensor([1, 2]), F.normalize(torch.randn(2, 4), dim=1))
    state = mem.state_dict()  # flushes first
    mem.label_change = torch.tensor(0.25)  # the logged monitor is state too (--resume)
    state = mem.state_dict()
    fresh = ODCMemory(feat_dim=4, num_clusters=3)
    fresh.setup(12)
    fresh.load_state_dict(state)
    assert float(fresh.label_change) == 0.25
    for key in ('bank', 'labels', 'centroids', 'num_updates', 'initialized', 'label_change'):
        assert torch.equal(getattr(fresh, key), getattr(mem, key)), key


def _steps(world: int = 2) -> dict:
    """4 steps of ``world`` x 6 rows; in a process group each rank applies its share."""
    rank = dist.get_rank() if dist.is_initialized() else None
    torch.manual_seed(1)  # same initial data on every rank
    feats = F.normalize(torch.randn(40, 8), dim=1)
    mem = ODCMemory(feat_dim=8, momentum=0.5, num_clusters=5, interval=2, min_cluster=3)
    mem.setup(40, seed=0)
    mem.init_clusters(torch.arange(40) % 5, feats)
    queue = KeyQueue(length=10, feat_dim=8)
    gen = torch.Generator().manual_seed(100)
    for _ in range(4):  # every rank draws the whole batch and applies its own share
        idx = torch.randperm(40, generator=gen)[:6 * world]
        new = F.normalize(torch.randn(6 * world, 8, generator=gen), dim=1)
        own = slice(None) if rank is None else slice(6 * rank, 6 * (rank + 1))
        mem.update(idx[own], new[own])
        queue.push(new[own])  # 12 keys into 10 rows: wraps around
    mem.flush()
    return dict({k: v.clone() for k, v in mem.state_dict().items()},
                queue=queue.keys.clone(), ptr=queue.ptr.clone())


@pytest.mark.dist
def test_two_gloo_ranks_hold_identical_bank_labels_centroids():
    ranks = run_in_processes(_steps, 2)
    reference = _steps()  # one process applying the whole (gathered) batch
    for key in ('bank', 'labels', 'centroids', 'num_updates', 'queue', 'ptr'):
        assert torch.equal(ranks[0][key], ranks[1][key]), key
        torch.testing.assert_close(ranks[0][key], reference[key], rtol=0, atol=1e-6, msg=key)
    assert int(reference['num_updates']) == 4 and int(reference['ptr']) == 48 % 10 == 8


def test_key_queue_overwrites_the_oldest_rows():
    queue = KeyQueue(length=5, feat_dim=2)
    init = queue.keys.clone()
    keys = F.normalize(torch.randn(7, 2), dim=1)
    queue.push(keys[:3])
    assert torch.equal(queue.keys[:3], keys[:3]) and torch.equal(queue.keys[3:], init[3:])
    queue.push(keys[3:])  # rows 3, 4, then 0, 1
    assert torch.equal(queue.keys[[3, 4, 0, 1, 2]], keys[[3, 4, 5, 6, 2]])
    assert int(queue.ptr) == 2


def test_key_queue_batch_longer_than_the_queue_equals_one_by_one():
    keys = F.normalize(torch.randn(7, 2), dim=1)
    whole, single = KeyQueue(length=5, feat_dim=2), KeyQueue(length=5, feat_dim=2)
    whole.push(keys[:2])
    single.push(keys[:2])
    whole.push(keys)
    for key in keys:
        single.push(key[None])
    assert torch.equal(whole.keys, single.keys) and int(whole.ptr) == int(single.ptr) == 4
