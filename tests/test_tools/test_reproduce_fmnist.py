"""scripts/reproduce_fmnist.sh trains the chosen methods side by side, prints their kNN
table at equal epochs, and resumes a run whose work dir already holds checkpoints."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_fashion_mnist

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'scripts' / 'reproduce_fmnist.sh'


def run(work_root: Path, data: Path, methods: str, epochs: int, **env_vars: str
        ) -> subprocess.CompletedProcess:
    env = dict(os.environ, **env_vars, PYTHON=sys.executable, METHODS=methods, JOBS='2',
               ARGS='', DATA_ROOT=str(data), EPOCHS='1 2 3', OMP_NUM_THREADS='1',
               OPTS=f'train_cfg.max_epochs={epochs} train_dataloader.batch_size=16 '
                    'custom_hooks.knn.k=5 default_hooks.logger.interval=1')
    return subprocess.run(['bash', str(SCRIPT), str(work_root)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=900)


def table_row(stdout: str, epoch: int) -> list:
    match = re.search(rf'^\| {epoch} \| (.*) \|$', stdout, re.M)
    assert match, stdout
    return [cell.strip() for cell in match.group(1).split('|')]


@pytest.mark.slow
def test_trains_methods_prints_table_and_resumes(tmp_path):
    data = write_fashion_mnist(tmp_path / 'data', num_train=32, num_test=16)
    first = run(tmp_path / 'runs', data, 'isif npid', epochs=2,
                TRAIN_SUBSET='24', TEST_SUBSET='8')
    assert first.returncode == 0, first.stdout + first.stderr
    for method in ('isif', 'npid'):  # trained on 24 of the 32 images, kNN of 8 test images
        log = (tmp_path / 'runs' / f'{method}.log').read_text()
        assert '24 references, 8 queries)' in log, log[-2000:]
    assert '| epoch | isif | npid |' in first.stdout
    for epoch in (1, 2):
        cells = table_row(first.stdout, epoch)
        assert len(cells) == 2 and all(0.0 <= float(c) <= 100.0 for c in cells)
    assert table_row(first.stdout, 3) == ['—', '—']
    assert (tmp_path / 'runs' / 'knn_curve.png').stat().st_size > 0

    again = run(tmp_path / 'runs', data, 'isif', epochs=3,  # continues from epoch 2
                TRAIN_SUBSET='24', TEST_SUBSET='8')
    assert again.returncode == 0, again.stdout + again.stderr
    assert 'resumed' in (tmp_path / 'runs' / 'isif.log').read_text().lower()
    assert float(table_row(again.stdout, 3)[0]) >= 0.0


def test_unknown_method_is_named(tmp_path):
    result = subprocess.run(['bash', str(SCRIPT), str(tmp_path)], cwd=ROOT, text=True,
                            capture_output=True, env=dict(os.environ, METHODS='isif nosuch',
                                                          PYTHON=sys.executable, ARGS=''))
    assert result.returncode == 2
    assert 'configs/nosuch/r18_fmnist.py' in result.stderr
