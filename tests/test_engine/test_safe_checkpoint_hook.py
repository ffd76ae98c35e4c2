"""SafeCheckpointHook in a real Runner: a new checkpoint is saved before old ones are removed,
a refused save removes nothing, ``last_checkpoint`` is relative, save_best keeps working
(also in a copied work dir), stale temporary files go, and unknown arguments are errors."""
import hashlib
import shutil
from pathlib import Path

import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.hooks import Hook
from mmengine.logging import MessageHub

from selfemb.engine.hooks.safe_checkpoint_hook import SafeCheckpointHook
from selfemb.registry import HOOKS
from selfemb.utils.checkpoint import resolve_last_checkpoint
from tests.test_utils.test_checkpoint_io import ToyData, tiny_runner

ACC = {}  # validation accuracy by (0-based) epoch, for ScriptedAcc


class ScriptedAcc(BaseMetric):
    def process(self, data_batch, data_samples) -> None:
        self.results.append(0)

    def compute_metrics(self, results) -> dict:
        return dict(acc=ACC[MessageHub.get_current_instance().get_info('epoch')])


class Files(Hook):
    """The files in ``directory`` each time a checkpoint is being saved, and whether it is
    a best checkpoint (saved without the optimizer)."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.seen = directory, []

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        self.seen.append(('optimizer' not in checkpoint, names(self.directory)))


class Refuse(Hook):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        if runner.epoch + 1 == self.epoch:
            raise RuntimeError(f'refusing to save epoch {self.epoch}: loss is NaN')


def names(directory: Path) -> list:
    return sorted(p.name for p in directory.iterdir() if p.is_file() and p.suffix == '.pth')


def hook_of(runner) -> SafeCheckpointHook:
    return next(h for h in runner.hooks if isinstance(h, SafeCheckpointHook))


def test_new_checkpoint_is_saved_before_old_ones_are_removed(tmp_path):
    files = Files(tmp_path)
    runner = tiny_runner(tmp_path, max_epochs=3, hooks=[files], max_keep_ckpts=2)
    runner.train()
    assert files.seen[2] == (False, ['epoch_1.pth', 'epoch_2.pth'])  # kept while saving 3
    assert names(tmp_path) == ['epoch_2.pth', 'epoch_3.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == 'epoch_3.pth'
    info = torch.load(tmp_path / 'epoch_3.pth', weights_only=True)['message_hub']['runtime_info']
    assert info['keep_ckpt_ids'] == [2, 3] and info['last_ckpt'] == str(tmp_path / 'epoch_3.pth')


def test_a_refused_save_removes_nothing(tmp_path):
    runner = tiny_runner(tmp_path, max_epochs=3, hooks=[Refuse(epoch=3)], max_keep_ckpts=2)
    with pytest.raises(RuntimeError, match='refusing to save epoch 3'):
        runner.train()
    assert names(tmp_path) == ['epoch_1.pth', 'epoch_2.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == 'epoch_2.pth'
    assert not list(tmp_path.glob('.tmp-*'))
    hook = hook_of(runner)
    assert list(hook.keep_ckpt_ids) == [1, 2] and hook.last_ckpt == str(tmp_path / 'epoch_2.pth')
    assert runner.message_hub.get_info('keep_ckpt_ids') == [1, 2]


def val_args() -> dict:
    return dict(val_dataloader=dict(dataset=ToyData(), batch_size=4, num_workers=0,
                                    sampler=dict(type='DefaultSampler', shuffle=False),
                                    collate_fn=dict(type='default_collate')),
                val_evaluator=Evaluator([ScriptedAcc()]), val_cfg=dict())


def test_save_best_saves_the_new_best_before_removing_the_old(tmp_path):
    ACC.clear()
    ACC.update({0: 0.1, 1: 0.3, 2: 0.2})
    files = Files(tmp_path)
    runner = tiny_runner(tmp_path, max_epochs=3, hooks=[files], runner_args=val_args(),
                         max_keep_ckpts=1, save_best='acc', rule='greater')
    runner.train()
    best_saves = [seen for best, seen in files.seen if best]
    assert len(best_saves) == 2 and 'best_acc_epoch_1.pth' in best_saves[1]
    assert names(tmp_path) == ['best_acc_epoch_2.pth', 'epoch_3.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == 'epoch_3.pth'
    best = torch.load(tmp_path / 'best_acc_epoch_2.pth', weights_only=True)
    assert best['meta']['selfemb']['algorithm'] == 'Toy'

    # a copy of the work dir resumes and finds a better model: it removes its own
    # previous best, never the original's (the message hub holds the original's path)
    ACC.update({2: 0.5, 3: 0.6})
    runner = tiny_runner(tmp_path / 'a', max_epochs=2, runner_args=val_args(),
                         save_best='acc', rule='greater')
    runner.train()
    shutil.copytree(tmp_path / 'a', tmp_path / 'b')
    tiny_runner(tmp_path / 'b', max_epochs=3, runner_args=val_args(), save_best='acc',
                rule='greater', resume_from=resolve_last_checkpoint(str(tmp_path / 'b'))).train()
    assert 'best_acc_epoch_2.pth' in names(tmp_path / 'a')
    assert 'best_acc_epoch_2.pth' not in names(tmp_path / 'b')
    assert 'best_acc_epoch_3.pth' in names(tmp_path / 'b')


def test_stale_temp_files_are_removed_before_the_run(tmp_path):
    work, out = tmp_path / 'work', tmp_path / 'out'
    (out / 'work').mkdir(parents=True)
    work.mkdir()
    stale = [work / '.tmp-last_checkpoint.ab_cd123', out / 'work/.tmp-epoch_1.pth.x1y2z3w4']
    for path in stale:
        path.write_bytes(b'partial')
    (work / 'notes.txt').write_text('kept')
    tiny_runner(work, max_epochs=1, out_dir=str(out)).train()
    assert not any(path.exists() for path in stale) and (work / 'notes.txt').exists()
    log = next(work.glob('*/*.log')).read_text()
    assert 'removed temporary files of interrupted writes' in log and str(stale[1]) in log
    # checkpoints in out_dir: last_checkpoint (in the work dir) is relative to the work dir
    assert (work / 'last_checkpoint').read_text() == '../out/work/epoch_1.pth'
    assert resolve_last_checkpoint(str(work)) == str(out / 'work/epoch_1.pth')


@pytest.mark.parametrize('typo,suggestion', [('intervl', 'interval'),
                                             ('max_keep_ckpt', 'max_keep_ckpts'),
                                             ('save_optimiser', 'save_optimizer')])
def test_unknown_arguments_are_rejected(typo, suggestion):
    with pytest.raises(ValueError, match=f"unknown argument '{typo}'; did you mean "
                                         f"'{suggestion}'"):
        HOOKS.build(dict(type='SafeCheckpointHook', interval=1, **{typo: 2}))
    with pytest.raises(ValueError, match='valid arguments: interval, by_epoch'):
        SafeCheckpointHook(zzz=1)
    hook = SafeCheckpointHook(interval=2, by_epoch=False, max_keep_ckpts=1, save_best='acc',
                              rule='greater', filename_tmpl='ckpt_{}.pth', save_begin=1,
                              published_keys=['meta', 'state_dict'])
    assert hook.args == {} and hook.interval == 2 and hook.filename_tmpl == 'ckpt_{}.pth'


def test_published_model_is_weights_only(tmp_path):
    tiny_runner(tmp_path, max_epochs=1, published_keys=['meta', 'state_dict']).train()
    published = next(tmp_path.glob('epoch_1-*.pth'))
    data = published.read_bytes()
    assert published.stem.endswith(hashlib.sha256(data).hexdigest()[:8])
    checkpoint = torch.load(published, weights_only=True)
    assert set(checkpoint) == {'meta', 'state_dict'}
    assert checkpoint['meta']['selfemb']['dataset_length'] == 8
