"""UICLabelHook in a real Runner: labels of epoch 1 are the argmax predictions of epoch 0;
`load_from` a later epoch relabels; 2 gloo ranks with diff_rank_seed share the labels."""
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MessageHub

from selfemb.engine.hooks import UICLabelHook
from selfemb.engine.hooks.uic_label_hook import next_labels
from selfemb.engine.runner import build_runner, hooks_by_role
from selfemb.models.memories import PseudoLabelMemory
from selfemb.models.utils import random_labels
from tests._dist_utils import run_in_processes

ROOT = Path(__file__).resolve().parents[2]
K = 8


def tiny_cfg(data_root, work_dir, max_epochs=2) -> Config:
    cfg = Config.fromfile(ROOT / 'configs/uic/r18_fmnist.py')
    cfg.model.num_classes = K
    cfg.model.backbone.update(stem_channels=8, base_channels=8)
    cfg.model.head.in_channels = 64
    for key in ('train_dataloader', 'knn_train_dataloader', 'knn_val_dataloader'):
        cfg[key].dataset.data_root = str(data_root)
    cfg.train_dataloader.batch_size = 16
    cfg.custom_hooks = [h for h in hooks_by_role(cfg.custom_hooks) if h.type != 'KNNEvalHook']
    cfg.train_cfg.max_epochs = max_epochs
    cfg.param_scheduler[0].update(T_max=max_epochs, end=max_epochs)
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    return cfg


class Spy(Hook):
    """Snapshots of the label buffers before UICLabelHook and at each epoch's first step."""

    def __init__(self):
        self.before, self.first_iter, self.recorded = {}, {}, []

    def before_train(self, runner):
        memory = runner.model.memory
        record = memory.record

        def spy(indices, predictions):
            self.recorded.append((runner.epoch, indices.clone(), predictions.clone()))
            record(indices, predictions)
        memory.record = spy

    def before_train_epoch(self, runner):  # VERY_HIGH: before the relabel
        memory = runner.model.memory
        self.before[runner.epoch] = (memory.labels.clone(), memory.predictions.clone())

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if batch_idx == 0:
            self.first_iter[runner.epoch] = (runner.model.memory.labels.clone(),
                                             runner.train_dataloader.sampler.labels.clone(),
                                             int(runner.model.memory.label_epoch))


def test_label_lifecycle_over_two_epochs(tiny_fmnist, tmp_path):
    runner = build_runner(tiny_cfg(tiny_fmnist, tmp_path))
    spy = Spy()
    runner.register_hook(spy, priority='VERY_HIGH')
    runner.train()
    labels0, preds_before0 = spy.before[0]
    assert torch.equal(labels0, random_labels(64, K, seed=runner.seed))
    assert bool((preds_before0 == -1).all())
    assert torch.equal(spy.first_iter[0][1], labels0)  # the sampler got epoch 0's labels

    _, preds0 = spy.before[1]  # predictions gathered in epoch 0, before the relabel
    replay = torch.full((64, ), -1, dtype=torch.long)
    for epoch, idx, pred in spy.recorded:  # a later batch overwrites; in a batch the first wins
        for i, p in reversed(list(zip(idx.tolist(), pred.tolist()))) if epoch == 0 else ():
            replay[i] = p
    assert torch.equal(preds0, replay) and int((preds0 >= 0).sum()) > 0
    labels1, sampler1, label_epoch1 = spy.first_iter[1]
    assert torch.equal(labels1, next_labels(labels0, preds0, K)[0])
    assert torch.equal(sampler1, labels1) and label_epoch1 == 1
    seen = preds0 >= 0
    if int(torch.unique(preds0[seen]).numel()) == K:  # no split needed: exactly the argmax
        assert torch.equal(labels1[seen], preds0[seen])
    info = runner.message_hub.get_info('uic')
    assert info['epoch'] == 1 and 0 <= info['nmi_prev'] <= 1 and 0 <= info['nmi_gt'] <= 1
    assert info['nonempty'] == K
    saved = torch.load(tmp_path / 'epoch_2.pth', map_location='cpu', weights_only=False)
    assert int(saved['state_dict']['memory.label_epoch']) == 1
    assert torch.equal(saved['state_dict']['memory.labels'], runner.model.memory.labels)


def fake_runner(model, sampler, epoch=1):
    """Just what UICLabelHook reads of a Runner."""
    dataset = SimpleNamespace(get_gt_labels=lambda: torch.arange(12) % 3)
    return SimpleNamespace(model=model, epoch=epoch, logger=MagicMock(),
                           visualizer=MagicMock(),
                           message_hub=MessageHub.get_instance('test_uic_label_hook'),
                           train_dataloader=SimpleNamespace(sampler=sampler, dataset=dataset))


def test_relabel_once_and_warn_for_an_unbalanced_sampler():
    memory = PseudoLabelMemory(num_classes=3)
    memory.setup(12, seed=0)
    memory.record(torch.arange(6), torch.tensor([2, 2, 2, 1, 1, 1]))
    model = torch.nn.Sequential(memory)
    runner, hook = fake_runner(model, sampler=object()), UICLabelHook()
    hook.before_train_epoch(runner)
    expected, empty = next_labels(random_labels(12, 3, seed=0),
                                  torch.tensor([2, 2, 2, 1, 1, 1] + [-1] * 6), 3)
    assert torch.equal(memory.labels, expected) and int(memory.label_epoch) == 1
    info = runner.message_hub.get_info('uic')
    assert info['empty_split'] == empty and info['unseen'] == 0.5 and 'nmi_gt' in info
    assert 'not class balanced' in runner.logger.warning.call_args[0][0]
    hook.before_train_epoch(runner)  # same epoch again (a resumed run): no second relabel
    assert torch.equal(memory.labels, expected) and runner.logger.warning.call_count == 1
    with pytest.raises(TypeError, match='one PseudoLabelMemory'):
        hook.before_train_epoch(fake_runner(torch.nn.Linear(2, 2), None))


def test_load_from_a_later_epoch_relabels_from_its_predictions():
    """A checkpoint of epoch 500 has label_epoch 499; a new run (load_from, not resume)
    starts at epoch 0 and must relabel from those predictions, then once per epoch."""
    memory = PseudoLabelMemory(num_classes=3)
    memory.setup(12, seed=0)
    memory.set_labels(torch.arange(12) % 3, epoch=499)
    memory.record(torch.arange(6), torch.tensor([2, 2, 2, 1, 1, 1]))
    old_labels, old_predictions = memory.labels.clone(), memory.predictions.clone()
    model, sampler = torch.nn.Sequential(memory), SimpleNamespace(set_labels=MagicMock())
    hook = UICLabelHook()
    hook.before_train_epoch(fake_runner(model, sampler, epoch=0))
    expected = next_labels(old_labels, old_predictions, 3)[0]
    assert int(memory.label_epoch) == 0 and torch.equal(memory.labels, expected)
    assert bool((memory.predictions == -1).all())
    hook.before_train_epoch(fake_runner(model, sampler, epoch=0))  # no second relabel
    assert torch.equal(memory.labels, expected)
    memory.record(torch.arange(12), torch.arange(12) % 3)
    hook.before_train_epoch(fake_runner(model, sampler, epoch=1))
    assert int(memory.label_epoch) == 1 and torch.equal(memory.labels, torch.arange(12) % 3)


def test_load_from_in_a_real_runner(tiny_fmnist, tmp_path):
    build_runner(tiny_cfg(tiny_fmnist, tmp_path / 'first')).train()
    saved = torch.load(tmp_path / 'first/epoch_2.pth', map_location='cpu',
                       weights_only=False)['state_dict']
    assert int(saved['memory.label_epoch']) == 1
    cfg = tiny_cfg(tiny_fmnist, tmp_path / 'second')
    cfg.load_from = str(tmp_path / 'first/epoch_2.pth')
    runner = build_runner(cfg)
    spy = Spy()
    runner.register_hook(spy, priority='VERY_HIGH')
    runner.train()
    labels0, sampler0, label_epoch0 = spy.first_iter[0]
    expected = next_labels(saved['memory.labels'], saved['memory.predictions'], K)[0]
    assert label_epoch0 == 0 and torch.equal(labels0, expected)  # the checkpoint's argmax
    assert torch.equal(sampler0, expected)
    _, preds0 = spy.before[1]
    labels1, _, label_epoch1 = spy.first_iter[1]
    assert label_epoch1 == 1 and torch.equal(labels1, next_labels(labels0, preds0, K)[0])


def _first_epoch_on_each_rank(data_root: str, work_dir: str) -> dict:
    cfg = tiny_cfg(data_root, work_dir, max_epochs=1)
    cfg.launcher = 'pytorch'
    cfg.model_wrapper_cfg = dict(cfg.model_wrapper_cfg, device_ids=None)
    cfg.randomness = dict(seed=5, diff_rank_seed=True)  # mmengine: rank r gets seed 5 + r
    runner = build_runner(cfg)
    runner.train()
    state = runner.model.module.memory.state_dict()
    return dict(seed=runner.seed, **{key: value.clone() for key, value in state.items()})


@pytest.mark.dist
def test_two_gloo_ranks_with_diff_rank_seed_start_from_the_same_labels(tiny_fmnist, tmp_path):
    """End to end (Runner.train also broadcasts buffers after init_weights; the hook's own
    shared seed is tested in test_pseudo_label_memory.py)."""
    first, second = run_in_processes(_first_epoch_on_each_rank, 2, str(tiny_fmnist),
                                     str(tmp_path), timeout=300.0)
    assert (first['seed'], second['seed']) == (5, 6)  # the ranks do have different seeds
    assert int(first['label_epoch']) == int(second['label_epoch']) == 0
    assert torch.equal(first['labels'], random_labels(64, K, seed=5))  # rank 0's seed
    for key in ('labels', 'predictions'):
        assert torch.equal(first[key], second[key]), key
