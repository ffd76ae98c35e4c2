"""tools/train.py end to end: resume equals an uninterrupted run; 2 gloo processes."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
TINY = ['train_dataloader.batch_size=16', 'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1', 'custom_hooks.knn.interval=1', 'custom_hooks.knn.k=10']


def train(config: str, work_dir: Path, data_root: Path, *extra: str, launcher=None) -> str:
    roots = [f'{key}.dataset.data_root={data_root}' for key in (
        'train_dataloader', 'knn_train_dataloader', 'knn_val_dataloader')]
    args = ['--work-dir', str(work_dir), '--cfg-options', *TINY, *roots, *extra]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    if launcher:
        cmd = ['bash', str(ROOT / 'tools/dist_train.sh'), config, '2', *args,
               'env_cfg.dist_cfg.backend=gloo']
        env.update(PYTHON=sys.executable, PORT=str(29500 + os.getpid() % 1000))
    else:
        cmd = [sys.executable, str(ROOT / 'tools/train.py'), config, *args]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def state(path: Path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


@pytest.mark.slow
def test_resume_continues_exactly(tmp_path, tiny_fmnist):
    config = 'configs/npid/r18_fmnist.py'
    train(config, tmp_path / 'full', tiny_fmnist, 'train_cfg.max_epochs=2')
    train(config, tmp_path / 'cut', tiny_fmnist, 'train_cfg.max_epochs=1')
    log = train(config, tmp_path / 'cut', tiny_fmnist, 'train_cfg.max_epochs=2', '--resume')
    assert 'resumed' in log.lower()
    full, resumed = state(tmp_path / 'full/epoch_2.pth'), state(tmp_path / 'cut/epoch_2.pth')
    assert full.keys() == resumed.keys()
    for key in full:  # bit-exact
        torch.testing.assert_close(full[key], resumed[key], rtol=0, atol=0, msg=key)
    assert full['memory.bank'].shape[0] == 64  # sized from len(dataset)


@pytest.mark.slow
def test_dist_train_two_gloo_processes(tmp_path, tiny_fmnist):
    log = train('configs/isif/r18_fmnist.py', tmp_path, tiny_fmnist, 'train_cfg.max_epochs=1',
                launcher='pytorch')
    assert 'knn/top1' in log or 'knn_top1' in log
    assert (tmp_path / 'epoch_1.pth').exists()
