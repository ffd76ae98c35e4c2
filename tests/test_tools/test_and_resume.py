"""tools/train.py with AND: a run resumed in the middle of round 2 equals an uninterrupted
run bit for bit (anchors are not recomputed, the lr restart is kept)."""
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from tests.conftest import write_fashion_mnist
from tests.test_tools.test_train_resume import state, train

CONFIG = 'configs/and/r18_fmnist.py'
# 2 rounds x 2 epochs; lr x0.1 after the first epoch of each round
# (the discovery hook takes its round length from the scheduler)
ROUNDS = ['param_scheduler.0.epochs_per_round=2', 'param_scheduler.0.milestones=[1]']


def epoch_lrs(log: str) -> dict:
    return {int(e): float(lr) for e, lr in
            re.findall(r'Epoch\(train\)\s+\[(\d+)\]\[\s*\d+/\d+\]\s+lr: (\S+)', log)}


@pytest.mark.slow
def test_resume_mid_round_continues_exactly(tmp_path):
    tiny_fmnist = write_fashion_mnist(tmp_path / 'data', num_train=32, num_test=16)
    with ThreadPoolExecutor(2) as pool:  # two 1-thread processes side by side
        full = pool.submit(train, CONFIG, tmp_path / 'full', tiny_fmnist, *ROUNDS,
                           'train_cfg.max_epochs=4')
        cut = pool.submit(train, CONFIG, tmp_path / 'cut', tiny_fmnist, *ROUNDS,
                          'train_cfg.max_epochs=3')
        full_log, _ = full.result(), cut.result()
    resumed_log = train(CONFIG, tmp_path / 'cut', tiny_fmnist, *ROUNDS,
                        'train_cfg.max_epochs=4', '--resume')
    assert 'resumed' in resumed_log.lower()
    assert full_log.count('AND round 1 (epoch 2): 8 anchors of 32 samples') == 1
    assert 'AND round' not in resumed_log  # round 2 (index 1) came from the checkpoint
    assert epoch_lrs(full_log) == {1: 0.03, 2: 0.003, 3: 0.03, 4: 0.003}  # restarted
    assert epoch_lrs(resumed_log) == {4: 0.003}
    full, resumed = state(tmp_path / 'full/epoch_4.pth'), state(tmp_path / 'cut/epoch_4.pth')
    assert full.keys() == resumed.keys()
    for key in full:
        torch.testing.assert_close(full[key], resumed[key], rtol=0, atol=0, msg=key)
    assert int(full['memory.round_idx']) == 1 and int(full['memory.anchor'].sum()) == 8
