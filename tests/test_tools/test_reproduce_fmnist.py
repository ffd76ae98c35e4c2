"""scripts/reproduce_fmnist.sh: its QUICK rehearsal trains the chosen runs (both kNN
protocols for the bank methods), the ISIF downstream stage and writes one table; a run
is resumed or left alone when finished; a call's limit cuts it; bad names are named."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_fashion_mnist

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'scripts' / 'reproduce_fmnist.sh'


def run(work_root: Path, timeout: int = 600, **env_vars: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1', **env_vars)
    return subprocess.run(['bash', str(SCRIPT), str(work_root)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def row(text: str, first: str) -> list:
    match = re.search(rf'^\| {re.escape(first)} \| (.*) \|$', text, re.M)
    assert match, text
    return [cell.strip() for cell in match.group(1).split('|')]


@pytest.mark.slow
def test_quick_rehearsal_writes_one_table_and_resumes(tmp_path):
    # >= 128 training and 64 test images in classes 0-4 too (the unseen-class run)
    data = write_fashion_mnist(tmp_path / 'data', num_train=300, num_test=160)
    runs = tmp_path / 'runs'
    first = run(runs, QUICK='1', RUNS='isif npid downstream', JOBS='2', DATA_ROOT=str(data),
                EXPORT=str(tmp_path / 'export'))
    assert first.returncode == 0, first.stdout + first.stderr
    npid_log = (runs / 'npid.log').read_text()
    assert 'reference=recompute, 128 references, 64 queries)' in npid_log
    assert 'knn_bank/top1' in npid_log and 'reference=bank, 128 references' in npid_log
    table = (runs / 'table.md').read_text()
    assert '| epoch | isif | npid |' in table and "memory-bank protocol" in table
    for epoch in ('1', '2'):
        assert all(0.0 <= float(c) <= 100.0 for c in row(table, epoch)[:2])
    isif = row(table, 'isif')  # graph-ready: the static step, run eagerly on the CPU
    assert isif[:3] == ['configs/isif/r18_fmnist.py', 'static step, uncaptured (CPU)', '2']
    assert isif[-1] == 'CPU'
    assert float(isif[7]) > 0  # training seconds per epoch
    assert row(table, 'npid')[6] != '—'  # bank best (epoch)
    downstream = table.split('## ISIF downstream')[1]
    for network in ('isif', 'untrained'):  # linear top-1, R@1, R@2, R@4, R@8, NMI
        cells = row(downstream, network)
        assert len(cells) == 6 and all(0.0 <= float(c) <= 100.0 for c in cells)
    saved = json.loads((runs / 'table.json').read_text())
    assert saved['runs']['isif']['run']['device'] == 'CPU'
    assert (tmp_path / 'export' / 'table.md').read_text() == table
    assert not list((tmp_path / 'export').rglob('*.pth'))

    again = run(runs, QUICK='1', RUNS='isif npid', DATA_ROOT=str(data),
                OPTS='train_cfg.max_epochs=3')  # isif continues to epoch 3
    assert again.returncode == 0, again.stdout + again.stderr
    assert 'resumed' in (runs / 'isif.log').read_text().lower()
    assert float(row((runs / 'table.md').read_text(), '3')[0]) >= 0.0
    finished = run(runs, QUICK='1', RUNS='npid', DATA_ROOT=str(data))
    assert finished.returncode == 0 and 'npid was already finished' in finished.stdout


def test_the_limit_cuts_a_call_and_says_so(tmp_path):
    data = write_fashion_mnist(tmp_path / 'data', num_train=160, num_test=80)
    result = run(tmp_path / 'runs', QUICK='1', PART='2', RUNS='uic', LIMIT='2',
                 DATA_ROOT=str(data))
    assert result.returncode != 0
    assert 'the 2s limit cut the call' in result.stderr


@pytest.mark.parametrize('env, message', [
    (dict(RUNS='isif nosuch'), "unknown run 'nosuch'"),
    (dict(PART='3'), "PART must be 1 or 2, got '3'")])
def test_bad_names_are_named(tmp_path, env, message):
    result = run(tmp_path, **env)
    assert result.returncode == 2
    assert message in result.stderr
