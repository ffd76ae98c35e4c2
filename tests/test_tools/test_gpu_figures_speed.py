"""scripts/gpu_figures_speed.sh: every GPU speed figure in two parts; QUICK=1 rehearses the
same commands on CPU with tiny settings."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_fashion_mnist

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'scripts' / 'gpu_figures_speed.sh'


def run(tmp_path: Path, **env_vars: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHON=sys.executable, OUT=str(tmp_path / 'out'),
               OMP_NUM_THREADS='1', **env_vars)
    return subprocess.run(['bash', str(SCRIPT)], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=1200)


def test_unknown_config_is_named(tmp_path):
    result = run(tmp_path, CONFIGS='isif nosuch')
    assert result.returncode == 2 and 'configs/nosuch/r18_fmnist.py' in result.stderr


@pytest.mark.slow
def test_quick_rehearsal_writes_every_record(tmp_path):
    data = write_fashion_mnist(tmp_path / 'data', num_train=300, num_test=80)
    result = run(tmp_path, QUICK='1', CONFIGS='isif', GRAPHED='isif', DATA_ROOT=str(data))
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / 'out'
    records = {p.stem: json.loads(p.read_text()) for p in out.glob('*.json')}
    assert set(records) == {'throughput_isif_graphed', 'throughput_isif', 'discovery_big',
                            'discovery_check'}
    isif = records['throughput_isif']
    assert isif['channels_last'] and isif['images_per_step'] == 16
    assert isif['end_to_end_runner_iters'] == 1 + 2 * 3
    assert isif['end_to_end_cuda_graph'] is None
    graphed = records['throughput_isif_graphed']['end_to_end_cuda_graph']
    assert graphed['captures'] == 1 and graphed['replays'] >= 1  # uncaptured on the CPU
    assert records['discovery_big']['discovery'] == 4000
    assert records['discovery_big']['dtype'] == 'bfloat16'
    assert records['discovery_check']['check']['precision'] == 'bfloat16'
    table = [line for line in result.stdout.splitlines() if line.startswith('| ')]
    assert len(table) == 1 + 4  # the header, then the headline figure first
    assert table[1].startswith('| throughput_isif_graphed |') and '(uncaptured)' in table[1]


def test_part_two_skips_the_headline(tmp_path):
    result = run(tmp_path, PARTS='2', CONFIGS='isif', GRAPHED='isif')
    assert result.returncode == 1 and 'no command succeeded' in result.stderr
