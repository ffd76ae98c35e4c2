"""Per-step helpers without host synchronisation: counts, label segments, negative
sampling, spherical k-means and the momentum encoder."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.model import ExponentialMovingAverage
from torch import nn

from selfemb.models.utils import MomentumEncoder, spherical_kmeans
from selfemb.models.utils.clustering import label_counts
from selfemb.models.utils.label_sampling import (
    STRATEGIES,
    label_segments,
    sample_negatives,
    sample_positives,
)
from selfemb.utils.sync_guard import HostSyncError, sync_guard


def test_label_counts_equal_bincount():
    labels = torch.randint(0, 7, (50, ), generator=torch.Generator().manual_seed(0))
    with sync_guard('cpu'):
        counts = label_counts(labels, 9)
    assert torch.equal(counts, torch.bincount(labels, minlength=9))


def test_label_segments_with_a_label_count_are_sync_free_and_equal():
    labels = torch.tensor([3, 0, 3, 1, 0, 3])
    order, start, count = label_segments(labels)  # the largest label read on the host
    with sync_guard('cpu'):
        s_order, s_start, s_count = label_segments(labels, 5)
    assert torch.equal(s_order, order)
    assert s_count.tolist() == count.tolist() + [0] and s_start[:4].tolist() == start.tolist()


@pytest.mark.parametrize('strategy', STRATEGIES)
def test_sampling_inside_a_step_is_sync_free(strategy):
    gen = torch.Generator().manual_seed(0)
    bank = F.normalize(torch.randn(60, 4, generator=gen), dim=1)
    labels = torch.arange(60) % 4
    anchors = torch.tensor([0, 7, 30])
    with sync_guard('cpu'):
        segments = label_segments(labels, 4)
        positives = sample_positives(labels, anchors, segments)
        negatives = sample_negatives(bank[anchors], bank, labels, labels[anchors], 5, strategy,
                                     segments=segments, check=False)
    assert torch.equal(labels[positives], labels[anchors])
    assert (labels[negatives] != labels[anchors, None]).all()
    with pytest.raises(HostSyncError):  # the no-negative check reads the device
        with sync_guard('cpu'):
            sample_negatives(bank[anchors], bank, labels, labels[anchors], 5, strategy,
                             segments=segments)


def test_spherical_kmeans_with_an_empty_cluster_is_sync_free():
    # three identical initial centroids: ties go to cluster 0, 1 and 2 start empty
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    with sync_guard('cpu'):
        _, labels = spherical_kmeans(x, 3, num_iters=3)
    assert sorted(set(labels.tolist())) == [0, 1, 2]


def test_momentum_encoder_is_mmengines_ema_without_host_reads():
    torch.manual_seed(0)
    online = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ours, theirs = MomentumEncoder(online, momentum=0.1), ExponentialMovingAverage(online, 0.1)
    for step in range(3):
        with torch.no_grad():
            for p in online.parameters():
                p.add_(0.5 * (step + 1))
        with sync_guard('cpu'):
            ours.update_parameters(online)
        theirs.update_parameters(online)
        for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
            assert torch.equal(a, b), name
    assert ours._host_steps == 1  # interval 1: nothing held in Python changes any more
    resumed = MomentumEncoder(online, momentum=0.1)
    resumed.load_state_dict(ours.state_dict())
    assert resumed._host_steps == 1 and int(resumed.steps) == 3  # the next update averages


def test_momentum_encoder_with_an_interval_counts_on_the_host():
    online = nn.Linear(2, 2)
    ours, theirs = (MomentumEncoder(online, 0.5, interval=2),
                    ExponentialMovingAverage(online, 0.5, interval=2))
    for _ in range(4):
        with torch.no_grad():
            online.weight.add_(1.0)
        ours.update_parameters(online)
        theirs.update_parameters(online)
        assert torch.equal(ours.module.weight, theirs.module.weight)
    assert ours._host_steps == 4
