"""tools/analysis/benchmark.py --parts: times InterCLR's online k-means and sampling in the step."""
import json
import sys

from tests.test_tools.bench_loader import ROOT, benchmark


def test_parts_mode_reports_the_share_of_the_step(capsys, monkeypatch, tiny_fmnist):
    monkeypatch.setattr(sys, 'argv', [
        'benchmark.py', str(ROOT / 'configs/interclr/r18_fmnist.py'), '--parts', '--iters', '2',
        '--warmup', '1', '--repeats', '1', '--cfg-options', 'train_dataloader.batch_size=8',
        *[f'{loader}.dataset.data_root={tiny_fmnist}'
          for loader in ('train_dataloader', 'knn_train_dataloader', 'knn_val_dataloader')],
        'custom_hooks.knn.k=5', 'model.backbone.base_channels=8', 'model.backbone.stem_channels=8',
        'model.neck.in_channels=64', 'model.memory.num_clusters=4', 'model.memory.min_cluster=2',
        'model.num_negatives=8', 'model.intra_negatives=16'])
    benchmark.main()
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # the instrumented steps relabel the previous step's rows and check small clusters
    assert set(result['parts_s']) == {'relabel', 'centroids', 'sampling'}
    assert all(v > 0 for v in result['parts_s'].values())
    assert 0 < result['parts_share'] < 1 and result['step_s'] > 0
