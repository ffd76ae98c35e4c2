"""tools/train.py with InterCLR: a resumed run equals an uninterrupted one bit for bit
(bank, pseudo-labels, centroids, MoCo queue and key encoder), and the initial k-means
is not run again on resume."""
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from selfemb.models.memories import KeyQueue
from tests.conftest import write_fashion_mnist
from tests.test_tools.test_train_resume import state, train

CONFIG = 'configs/interclr/r18_fmnist.py'
SMALL = ['model.memory.num_clusters=4', 'model.memory.min_cluster=2', 'model.num_negatives=8',
         'model.intra_negatives=16']


def label_changes(log: str, epoch: int) -> list:
    """The logged ``label_change`` of every iteration of ``epoch``."""
    return re.findall(rf'Epoch\(train\) +\[{epoch}\]\[ *\d+/\d+\].*?label_change: ([\d.]+)',
                      log)


@pytest.mark.slow
def test_interclr_resume_continues_exactly(tmp_path):
    data = write_fashion_mnist(tmp_path / 'data', num_train=32, num_test=16)
    with ThreadPoolExecutor(2) as pool:  # two 1-thread processes side by side
        full = pool.submit(train, CONFIG, tmp_path / 'full', data, *SMALL,
                           'train_cfg.max_epochs=2')
        cut = pool.submit(train, CONFIG, tmp_path / 'cut', data, *SMALL,
                          'train_cfg.max_epochs=1')
        full_log = full.result()
        cut.result()  # the 1-epoch run (its log is not needed) must have finished
    resumed_log = train(CONFIG, tmp_path / 'cut', data, *SMALL, 'train_cfg.max_epochs=2',
                        '--resume')
    assert 'resumed' in resumed_log.lower()
    assert full_log.count('ODCInitHook: k-means of 32 samples into 4 clusters') == 1
    assert 'ODCInitHook: k-means' not in resumed_log
    assert 'clustering restored from the checkpoint' in resumed_log
    # the monitor of the step's first flush is restored too (a buffer, not 0 after resume)
    assert len(label_changes(full_log, 2)) == 2
    assert label_changes(resumed_log, 2) == label_changes(full_log, 2)
    full, resumed = state(tmp_path / 'full/epoch_2.pth'), state(tmp_path / 'cut/epoch_2.pth')
    assert full.keys() == resumed.keys()
    for key in ('memory.bank', 'memory.labels', 'memory.centroids', 'memory.num_updates',
                'queue.keys', 'queue.ptr', 'key_encoder.steps'):
        assert key in full, key
    for key in full:
        torch.testing.assert_close(full[key], resumed[key], rtol=0, atol=0, msg=key)
    assert int(full['memory.num_updates']) == 4  # 2 epochs x 2 steps (saving flushes)
    assert full['memory.labels'].shape == (32, ) and bool(full['memory.initialized'])


@pytest.mark.slow
@pytest.mark.dist
def test_interclr_trains_in_two_gloo_processes(tmp_path):
    data = write_fashion_mnist(tmp_path / 'data', num_train=32, num_test=16)
    log = train(CONFIG, tmp_path / 'run', data, *SMALL, 'train_cfg.max_epochs=1',
                launcher='pytorch')
    assert 'ODCInitHook: k-means of 32 samples into 4 clusters' in log
    assert 'knn/top1' in log
    ckpt = state(tmp_path / 'run/epoch_1.pth')
    assert int(ckpt['memory.num_updates']) == 1  # one step of 2 x 16 (gathered), flushed
    initial = KeyQueue(16, 128).keys  # 32 gathered keys overwrote all 16 rows
    assert (ckpt['queue.keys'] != initial).any(1).all() and bool(ckpt['memory.initialized'])
