"""tools/analysis/fmnist_table.py on hand-written scalars.json files: kNN curves, the bank
protocol's best / last, seconds per epoch (hand-computed means), merged roots, downstream."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools' / 'analysis' / 'fmnist_table.py'
sys.path.insert(0, str(TOOL.parent))
import fmnist_table  # noqa: E402


def write_scalars(run: Path, stamp: str, records: list) -> None:
    folder = run / stamp / 'vis_data'
    folder.mkdir(parents=True)
    (folder / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in records))


def train(epoch: int, it: int, time: float) -> dict:
    return dict(lr=0.03, time=time, data_time=0.001, loss=1.0, epoch=epoch, iter=it, step=it)


def knn(epoch: int, top1: float, seconds: float, prefix: str = 'knn') -> dict:
    return {f'{prefix}/top1': top1, f'{prefix}/top5': 90.0, f'{prefix}/best_top1': top1,
            f'{prefix}/seconds': seconds, 'step': epoch}


@pytest.fixture
def roots(tmp_path) -> tuple:
    first, second = tmp_path / 'part1', tmp_path / 'part2'
    # isif: 4 iterations per epoch, logged every 2; resumed after epoch 2 (a new file
    # that logs epoch 2's evaluation again, the later one wins)
    write_scalars(first / 'isif', '20261206_000000', [
        knn(0, 99.0, 1.0), train(1, 2, 0.1), train(1, 4, 0.3), knn(1, 50.0, 1.5),
        train(2, 6, 0.2), train(2, 8, 0.2), knn(2, 55.0, 2.0)])
    write_scalars(first / 'isif', '20261206_010000', [
        knn(2, 60.0, 2.5), train(3, 10, 0.5), train(3, 12, 0.7), knn(3, 58.0, 3.0)])
    (first / 'isif' / 'run.json').write_text(json.dumps(dict(
        config='configs/isif/r18_fmnist.py', device='NVIDIA H100 80GB HBM3',
        torch='2.14.1', cuda_graph=True)))
    # npid: both monitors, 3 iterations per epoch (logged at 3 and 6)
    (second / 'npid').mkdir(parents=True)
    (second / 'npid' / 'run.json').write_text(json.dumps(dict(
        config='configs/npid/r18_fmnist.py', device='CPU', torch='2.14.1', cuda_graph=True)))
    write_scalars(second / 'npid', '20261206_000000', [
        train(1, 3, 0.4), knn(1, 40.0, 1.0), knn(1, 70.0, 0.5, 'knn_bank'),
        train(2, 6, 0.6), knn(2, 45.0, 1.0), knn(2, 65.0, 0.5, 'knn_bank')])
    down = first / 'downstream'
    write_scalars(down / 'linear_isif', '20261206_000000', [
        {'accuracy/top1': 80.0, 'step': 5}, {'accuracy/top1': 85.5, 'step': 10}])
    (down / 'recall_isif.json').write_text(
        'some progress\n' + json.dumps({'R@1': 82.0, 'R@2': 89.0, 'NMI': 30.0}) + '\n')
    (down / 'recall_untrained.json').write_text(json.dumps({'R@1': 84.0, 'R@2': 90.0,
                                                            'NMI': 26.0}) + '\n')
    write_scalars(down / 'unseen', '20261206_000000', [knn(1, 68.25, 1.0)])
    return first, second


def test_numbers_from_hand_written_scalars(roots):
    table = fmnist_table.build_table([str(r) for r in roots])
    assert list(table['runs']) == ['isif', 'npid']
    isif, npid = table['runs']['isif'], table['runs']['npid']
    assert isif['knn_top1'] == {0: 99.0, 1: 50.0, 2: 60.0, 3: 58.0}
    # epoch 0 (the untrained network, eval_initial) is neither the best nor timed
    assert (isif['knn_last'], isif['knn_best'], isif['knn_best_epoch']) == (58.0, 60.0, 2)
    assert isif['knn_untrained'] == 99.0
    assert isif['iters_per_epoch'] == 4 and isif['epochs'] == 3
    # mean iteration time x 4 iterations: epochs 0.2*4, 0.2*4, 0.6*4 -> mean 1.2 s
    assert isif['train_s_per_epoch'] == pytest.approx((0.8 + 0.8 + 2.4) / 3)
    assert isif['eval_s_per_epoch'] == pytest.approx((1.5 + 2.5 + 3.0) / 3)
    assert isif['wall_s_per_epoch'] == pytest.approx(4 / 3 + 7 / 3)
    assert 'bank_top1' not in isif
    assert npid['iters_per_epoch'] == 3
    assert npid['train_s_per_epoch'] == pytest.approx((0.4 * 3 + 0.6 * 3) / 2)
    assert npid['eval_s_per_epoch'] == pytest.approx(1.5)  # both monitors' seconds
    assert npid['bank_top1'] == {1: 70.0, 2: 65.0}
    assert (npid['bank_best'], npid['bank_best_epoch'], npid['bank_last']) == (70.0, 1, 65.0)
    # every device that trained a run is named (npid's run.json says CPU)
    assert table['devices'] == ['CPU (torch 2.14.1)', 'NVIDIA H100 80GB HBM3 (torch 2.14.1)']
    down = table['downstream']
    assert down['isif'] == {'linear_top1': 85.5, 'R@1': 82.0, 'R@2': 89.0, 'NMI': 30.0}
    assert down['untrained'] == {'R@1': 84.0, 'R@2': 90.0, 'NMI': 26.0}
    assert down['unseen_seen_class_knn_top1'] == 68.25


def test_cli_writes_markdown_and_json(roots, tmp_path):
    out = tmp_path / 'table'
    result = subprocess.run([sys.executable, str(TOOL), *map(str, roots), '--out', str(out)],
                            capture_output=True, text=True, check=True)
    text = (tmp_path / 'table.md').read_text()
    assert text in result.stdout
    assert '| epoch | isif | npid |' in text and '| 3 | 58.00 | — |' in text
    assert "memory-bank protocol" in text and '| 1 | 70.00 |' in text
    assert '| isif | configs/isif/r18_fmnist.py | yes | 3 | 58.00 | 60.00 (2) | — | — | 1.3 |' \
        in text
    assert ('| npid | configs/npid/r18_fmnist.py | static step, uncaptured (CPU) | 2 | 45.00 | '
            '45.00 (2) | 65.00 | 70.00 (1) | 1.5 | 1.5 | 3.0 | CPU |') \
        in text
    assert '| network | linear top-1 | R@1 | R@2 | NMI |' in text
    assert '| untrained | — | 84.00 | 90.00 | 26.00 |' in text
    saved = json.loads((tmp_path / 'table.json').read_text())
    assert saved['runs']['npid']['bank_best'] == 70.0


def test_a_run_in_two_roots_is_named(roots):
    first, second = roots
    write_scalars(second / 'isif', '20261206_000000', [knn(1, 1.0, 1.0)])
    with pytest.raises(ValueError, match="run 'isif' is in two roots"):
        fmnist_table.build_table([str(first), str(second)])
