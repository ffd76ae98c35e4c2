"""CLD / CLDm through tools/train.py: exact resume (queue, momentum encoder, bank) and a
2-process gloo run of configs/cld/r50_in100.py on a tiny ImageNet-style list dataset."""
import os
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from tests.test_configs.test_config_smoke import shrink
from tests.test_configs.tiny_data import write_image_list
from tests.test_tools.test_train_resume import ROOT, state, train

SMALL = ['model.group_head.num_groups=8']


@pytest.mark.slow
@pytest.mark.parametrize('config, extra', [
    ('configs/cld/r18_fmnist_moco.py', ['model.queue_len=40']),  # wraps within an epoch
    ('configs/cld/r18_fmnist.py', []),
])
def test_resume_continues_exactly(config, extra, tmp_path, tiny_fmnist):
    opts = SMALL + extra
    train(config, tmp_path / 'full', tiny_fmnist, 'train_cfg.max_epochs=2', *opts)
    train(config, tmp_path / 'cut', tiny_fmnist, 'train_cfg.max_epochs=1', *opts)
    log = train(config, tmp_path / 'cut', tiny_fmnist, 'train_cfg.max_epochs=2', *opts,
                '--resume')  # last: it ends the --cfg-options list
    assert 'resumed' in log.lower()
    full, resumed = state(tmp_path / 'full/epoch_2.pth'), state(tmp_path / 'cut/epoch_2.pth')
    assert full.keys() == resumed.keys()
    for key in full:
        torch.testing.assert_close(full[key], resumed[key], rtol=0, atol=0, equal_nan=True,
                                   msg=key)
    if 'queue.keys' in full:  # 2 epochs x 4 steps x 16 keys through a queue of 40
        assert int(full['queue.ptr']) == (2 * 4 * 16) % 40
        assert int(full['momentum_encoder.steps']) == 8
        one = state(tmp_path / 'cut/epoch_1.pth')
        assert not torch.equal(one['queue.keys'], full['queue.keys'])


@pytest.mark.slow
@pytest.mark.parametrize('global_batch', [False, True])
def test_r50_in100_two_gloo_processes(global_batch, tmp_path):
    cfg = Config.fromfile(ROOT / 'configs/cld/r50_in100.py')
    assert cfg.model.type == 'CLD' and cfg.model.backbone.depth == 50
    data = write_image_list(tmp_path / 'in100', per_split=32, size=36)
    shrink(cfg, {'ImageList': data})
    cfg.model.group_head.global_batch = global_batch
    # 2 ranks x 4 samples: k = 6 only works when the gathered batch of 8 is clustered
    cfg.model.group_head.num_groups = 6 if global_batch else 4
    cfg.train_dataloader.batch_size = 4
    config = tmp_path / 'r50_in100_tiny.py'
    cfg.dump(str(config))
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', PYTHON=sys.executable,
               PORT=str(29600 + os.getpid() % 1000))
    done = subprocess.run(
        ['bash', str(ROOT / 'tools/dist_train.sh'), str(config), '2', '--work-dir',
         str(tmp_path / 'work'), '--cfg-options', 'env_cfg.dist_cfg.backend=gloo'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert 'knn' in (done.stdout + done.stderr).lower()
    ckpt = state(tmp_path / 'work/epoch_1.pth')
    assert ckpt['memory.bank'].shape == (32, 128)  # sized from len(dataset)
