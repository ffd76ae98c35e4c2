"""tools/analysis/benchmark.py times CLD's clustering calls (for the k-means share of a step)."""
import importlib.util
from pathlib import Path

import torch
from torch import nn

from selfemb.models.heads import CLDHead

ROOT = Path(__file__).resolve().parents[2]


def test_clustering_timer_wraps_cluster_and_keeps_results():
    spec = importlib.util.spec_from_file_location('benchmark', ROOT / 'tools/analysis/benchmark.py')
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    assert benchmark.clustering_timer(nn.Linear(2, 2), torch.device('cpu')) == []
    model = nn.Sequential(nn.Linear(2, 2), CLDHead(num_groups=4))
    x = torch.randn(32, 8)
    expected = model[1].cluster(x)
    spent = benchmark.clustering_timer(model, torch.device('cpu'))
    got = model[1].cluster(x)
    assert spent[0] > 0
    assert all(torch.equal(a, b) for a, b in zip(expected, got))
