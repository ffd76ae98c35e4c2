"""tools/analysis/benchmark.py --parts: times InterCLR's online k-means and sampling in the step."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_parts_mode_reports_the_share_of_the_step(capsys, monkeypatch, tiny_fmnist):
    spec = importlib.util.spec_from_file_location('benchmark', ROOT / 'tools/analysis/benchmark.py')
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    monkeypatch.setattr(sys, 'argv', [
        'benchmark.py', str(ROOT / 'configs/interclr/r18_fmnist.py'), '--parts', '--iters', '2',
        '--warmup', '0', '--cfg-options', 'train_dataloader.batch_size=8',
        f'train_dataloader.dataset.data_root={tiny_fmnist}',
        'model.memory.num_clusters=4', 'model.memory.min_cluster=2', 'model.num_negatives=8',
        'model.intra_negatives=16'])
    benchmark.main()
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # step 1 flushes nothing; step 2 relabels step 1's rows and checks small clusters
    assert set(result['parts_s']) == {'relabel', 'centroids', 'sampling'}
    assert all(v > 0 for v in result['parts_s'].values())
    assert 0 < result['parts_share'] < 1 and result['step_s'] > 0
