"""KNNEvalHook(reference='bank'): the NPID / AND protocol (memory bank as the kNN reference
set), and the best-epoch tracking of both references."""
import glob
import io
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from selfemb.engine.hooks.knn_eval_hook import KNNEvalHook
from selfemb.engine.runner import SelfembRunner
from selfemb.evaluation.knn import weighted_knn
from selfemb.models.memories import SimpleMemory
from selfemb.registry import MODELS
from tests.test_engine.test_knn_eval_hook import KNNToyDataset, KNNToyModel, loader_cfg, toy_runner


@torch.no_grad()
def noisy_bank(model, n: int, noise: float, seed: int = 3) -> torch.Tensor:
    """The model's embeddings of the ``n`` train images, more or less noisy (unit rows)."""
    feats = model.embed(KNNToyDataset(n, seed=0).images)
    gen = torch.Generator().manual_seed(seed)
    return F.normalize(feats + noise * torch.randn(n, 4, generator=gen), dim=1)


@MODELS.register_module(force=True)
class KNNBankToyModel(KNNToyModel):
    """The toy embedding plus a 4-d SimpleMemory of ``bank_rows`` rows, set by hand."""

    def __init__(self, bank_rows: int = 60) -> None:
        super().__init__()
        torch.nn.init.normal_(self.proj.weight, generator=torch.Generator().manual_seed(7))
        self.memory = SimpleMemory(feat_dim=4)
        self.memory.setup(bank_rows, seed=0)
        self.memory.bank.copy_(noisy_bank(self, bank_rows, noise=0.5))


def make_runner(work_dir, model=None, max_epochs: int = 2, resume: bool = False,
                **hook_args) -> SelfembRunner:
    hook = dict(type='KNNEvalHook', train_dataloader=None, val_dataloader=loader_cfg(48, 1),
                reference='bank', k=5)
    hook.update(hook_args)
    return toy_runner(work_dir, model if model is not None else KNNBankToyModel(), [hook],
                      f'knnbank_{Path(work_dir).name}', max_epochs, resume)


def knn_hook(runner) -> KNNEvalHook:
    return next(h for h in runner.hooks if isinstance(h, KNNEvalHook))


def bank_oracle(model, k: int = 5, temperature: float = 0.1) -> dict:
    """weighted_knn of the recomputed query embeddings against (bank, train labels)."""
    train, val = KNNToyDataset(60, seed=0), KNNToyDataset(48, seed=1)
    with torch.no_grad():
        return weighted_knn(model.memory.current_bank(), train.labels, model.embed(val.images),
                            val.labels, k=k, temperature=temperature)


def test_bank_reference_is_weighted_knn_on_the_bank(tmp_path):
    runner = make_runner(tmp_path)
    runner.train()
    hook, model = knn_hook(runner), runner.model
    last = {key: hook.result[key] for key in ('knn_top1', 'knn_top5')}
    assert last == bank_oracle(model)
    # not the recomputed protocol: the train images' embeddings give another number
    train, val = KNNToyDataset(60, seed=0), KNNToyDataset(48, seed=1)
    with torch.no_grad():
        recomputed = weighted_knn(model.embed(train.images), train.labels,
                                  model.embed(val.images), val.labels, k=5, temperature=0.1)
    assert last != recomputed
    assert runner.message_hub.get_info('knn') == dict(hook.result, epoch=2)
    log = open(glob.glob(str(tmp_path / '*' / '*.log'))[0]).read()
    assert 'reference=bank, 60 references, 48 queries)' in log and 'knn/best_top1' in log


def test_best_and_last_over_epochs_and_through_checkpoint_state(tmp_path):
    runner = make_runner(tmp_path)
    hook, memory = knn_hook(runner), runner.model.memory
    tops = []
    for epoch, noise in enumerate([1.5, 0.05, 3.0], start=1):  # the middle bank is the best
        memory.bank.copy_(noisy_bank(runner.model, 60, noise))
        result = hook.evaluate(runner, epoch=epoch)
        assert {k: result[k] for k in ('knn_top1', 'knn_top5')} == bank_oracle(runner.model)
        tops.append(result['knn_top1'])
    assert tops[1] > max(tops[0], tops[2])
    assert hook.result == dict(knn_top1=tops[2], knn_top5=hook.result['knn_top5'],
                               best_top1=tops[1], best_epoch=2)
    assert runner.message_hub.get_info('knn') == dict(hook.result, epoch=3)
    # the best survives a weights-only save / load of the hook's state
    checkpoint = {'meta': {}}
    hook.before_save_checkpoint(runner, checkpoint)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    fresh = KNNEvalHook(None, loader_cfg(48, 1), reference='bank', k=5)
    fresh.after_load_checkpoint(runner, loaded)
    assert (fresh.best_top1, fresh.best_epoch, fresh.evaluated_epoch) == (tops[1], 2, 3)
    memory.bank.copy_(noisy_bank(runner.model, 60, 3.0))
    assert fresh.evaluate(runner, epoch=4)['best_epoch'] == 2


def test_best_survives_resume(tmp_path):
    full = make_runner(tmp_path / 'full', max_epochs=3)
    full.train()
    make_runner(tmp_path / 'cut', max_epochs=2).train()
    resumed = make_runner(tmp_path / 'cut', max_epochs=3, resume=True)
    resumed.train()
    assert knn_hook(resumed).result == knn_hook(full).result


def test_bank_reference_needs_a_bank(tmp_path):
    runner = make_runner(tmp_path, model=KNNToyModel())
    with pytest.raises(TypeError, match=r"KNNEvalHook\(reference='bank'\) needs a model with "
                                        'one SimpleMemory'):
        runner.train()


def test_bank_rows_must_match_the_train_set(tmp_path):
    runner = make_runner(tmp_path, model=KNNBankToyModel(bank_rows=50))
    with pytest.raises(ValueError, match=r'the bank has 50 rows but the train dataset '
                                         r'KNNToyDataset has 60 samples'):
        runner.train()
    assert glob.glob(str(tmp_path / 'epoch_1.pth'))  # the epoch was saved first


@pytest.mark.parametrize('kwargs, match', [
    (dict(reference='memory'), "reference must be 'recompute' or 'bank'"),
    (dict(reference='bank', feature='backbone'), "feature must be 'embedding'"),
    (dict(reference='recompute'), 'needs a train_dataloader')])
def test_bank_reference_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        KNNEvalHook(None, loader_cfg(48, 1), **kwargs)
