"""KNNEvalHook(prefix=...): both references (recomputed and bank) in one training, each
under its own scalar names, message-hub info and checkpoint meta entry."""
import json
from pathlib import Path

import pytest
import torch

from selfemb.engine.hooks.knn_eval_hook import KNNEvalHook
from selfemb.engine.runner import SelfembRunner
from tests.test_engine.test_knn_eval_hook import expected_knn, loader_cfg, toy_runner
from tests.test_engine.test_knn_eval_hook_bank import KNNBankToyModel, bank_oracle


def two_monitor_runner(work_dir: Path, max_epochs: int, resume: bool = False) -> SelfembRunner:
    hooks = dict(
        knn=dict(type='KNNEvalHook', train_dataloader=loader_cfg(60, 0),
                 val_dataloader=loader_cfg(48, 1), k=5),
        knn_bank=dict(type='KNNEvalHook', train_dataloader=None,
                      val_dataloader=loader_cfg(48, 1), reference='bank', k=5,
                      prefix='knn_bank'))
    return toy_runner(work_dir, KNNBankToyModel(), hooks,
                      f'knnprefix_{work_dir.name}_{max_epochs}_{resume}', max_epochs, resume)

def hooks(runner) -> dict:
    return {h.prefix: h for h in runner.hooks if isinstance(h, KNNEvalHook)}


def test_two_references_log_apart(tmp_path):
    runner = two_monitor_runner(tmp_path / 'run', max_epochs=2)
    runner.train()
    recompute, bank = hooks(runner)['knn'], hooks(runner)['knn_bank']
    model = runner.model
    top = {k: recompute.result[k] for k in ('knn_top1', 'knn_top5')}
    assert top == expected_knn(model, k=5, temperature=0.1)
    assert {k: bank.result[k] for k in ('knn_top1', 'knn_top5')} == bank_oracle(model)
    assert runner.message_hub.get_info('knn') == dict(recompute.result, epoch=2)
    assert runner.message_hub.get_info('knn_bank') == dict(bank.result, epoch=2)
    scalars = [json.loads(line) for path in (tmp_path / 'run').glob('*/vis_data/scalars.json')
               for line in path.read_text().splitlines()]
    last = {key: r[key] for r in scalars if r['step'] == 2 for key in r}
    assert last['knn/top1'] == recompute.result['knn_top1']
    assert last['knn_bank/top1'] == bank.result['knn_top1']
    assert last['knn_bank/best_top1'] == bank.best_top1
    assert last['knn/seconds'] >= 0 and last['knn_bank/seconds'] >= 0


def test_each_monitor_resumes_its_own_best(tmp_path):
    full = two_monitor_runner(tmp_path / 'full', max_epochs=3)
    full.train()
    cut = two_monitor_runner(tmp_path / 'cut', max_epochs=2)
    cut.train()
    meta = torch.load(tmp_path / 'cut' / 'epoch_2.pth', weights_only=True)['meta']
    # an epoch is saved before its evaluation: epoch_2.pth holds each monitor's epoch-1 state
    assert meta['knn_eval']['evaluated_epoch'] == meta['knn_bank_eval']['evaluated_epoch'] == 1
    assert meta['knn_eval']['best_top1'] != meta['knn_bank_eval']['best_top1']
    resumed = two_monitor_runner(tmp_path / 'cut', max_epochs=3, resume=True)
    resumed.train()
    for prefix in ('knn', 'knn_bank'):
        assert hooks(resumed)[prefix].result == hooks(full)[prefix].result


@pytest.mark.parametrize('prefix', ['', 'knn/bank', 3])
def test_prefix_must_name_scalars(prefix):
    with pytest.raises(ValueError, match='prefix must be a Python identifier'):
        KNNEvalHook(None, loader_cfg(48, 1), reference='bank', prefix=prefix)
