"""The benchmark's part timers: CLD's clustering calls (the k-means share of a step) are
timed, give the same results, and are unwrapped afterwards."""
import torch
from torch import nn

from selfemb.models.heads import CLDHead
from tests.test_tools.bench_loader import bench_module

parts = bench_module('parts')
PartTimer, clustering_parts = parts.PartTimer, parts.clustering_parts


def test_clustering_parts_time_cluster_keep_results_and_restore():
    cpu = torch.device('cpu')
    assert not clustering_parts(nn.Linear(2, 2), PartTimer(cpu))
    model = nn.Sequential(nn.Linear(2, 2), CLDHead(num_groups=4))
    x = torch.randn(32, 8)
    expected = model[1].cluster(x)
    timer = PartTimer(cpu)
    assert clustering_parts(model, timer)
    got = model[1].cluster(x)
    assert timer.seconds['kmeans'] > 0
    assert all(torch.equal(a, b) for a, b in zip(expected, got))
    timer.restore()
    assert 'cluster' not in vars(model[1])  # the class method again


def test_instrumented_pass_counts_timed_steps_only():
    cpu = torch.device('cpu')
    head = CLDHead(num_groups=4)
    x = torch.randn(32, 8)
    timer = PartTimer(cpu)
    clustering_parts(head, timer)
    calls = []

    def step():
        calls.append(1)
        head.cluster(x)

    step_s, spent = parts.instrumented_pass(step, timer, warmup=2, iters=3, device=cpu)
    assert len(calls) == 5 and set(spent) == {'kmeans'}
    assert 0 < spent['kmeans'] <= step_s
    assert 'cluster' not in vars(head)
