"""tools/train.py with UIC: a resumed run relabels from the checkpoint's predictions and
continues bit for bit (labels, predictions, sampler order, weights)."""
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from tests.conftest import write_fashion_mnist
from tests.test_tools.test_train_resume import state, train

CONFIG = 'configs/uic/r18_fmnist.py'
SMALL = ['model.num_classes=8']


def label_lines(log: str) -> dict:
    """``UIC labels of epoch e: ...`` statistics (without the timing) per epoch."""
    return {int(e): text for e, text in
            re.findall(r'UIC labels of epoch (\d+): (.*?)\s+\(relabel', log)}


@pytest.mark.slow
def test_uic_resume_continues_exactly(tmp_path):
    data = write_fashion_mnist(tmp_path / 'data', num_train=48, num_test=16)
    with ThreadPoolExecutor(2) as pool:
        full = pool.submit(train, CONFIG, tmp_path / 'full', data, *SMALL,
                           'train_cfg.max_epochs=3')
        cut = pool.submit(train, CONFIG, tmp_path / 'cut', data, *SMALL,
                          'train_cfg.max_epochs=2')
        full_log, _ = full.result(), cut.result()
    resumed_log = train(CONFIG, tmp_path / 'cut', data, *SMALL, 'train_cfg.max_epochs=3',
                        '--resume')
    assert 'resumed' in resumed_log.lower()
    assert set(label_lines(full_log)) == {0, 1, 2}
    assert label_lines(resumed_log) == {2: label_lines(full_log)[2]}  # same relabel, NMIs
    full, resumed = state(tmp_path / 'full/epoch_3.pth'), state(tmp_path / 'cut/epoch_3.pth')
    assert full.keys() == resumed.keys()
    for key in full:  # weights equal only if every batch (sampler order) was the same
        torch.testing.assert_close(full[key], resumed[key], rtol=0, atol=0, msg=key)
    assert int(full['memory.label_epoch']) == 2 and full['memory.labels'].shape == (48, )
    assert int((full['memory.predictions'] >= 0).sum()) > 0


@pytest.mark.slow
def test_uic_trains_in_two_gloo_processes(tmp_path):
    """DDP, the all-gathered label recording and the sharded sampler in a real launch."""
    data = write_fashion_mnist(tmp_path / 'data', num_train=48, num_test=16)
    log = train(CONFIG, tmp_path / 'run', data, *SMALL, 'train_cfg.max_epochs=2',
                launcher='pytorch')
    assert set(label_lines(log)) >= {0, 1}
    saved = state(tmp_path / 'run/epoch_2.pth')
    assert int(saved['memory.label_epoch']) == 1
    # both ranks' batches were recorded: 2 ranks x 24 draws of the 48-sample epoch
    assert int((saved['memory.predictions'] >= 0).sum()) > 24
