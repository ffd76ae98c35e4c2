"""DeferredRuntimeInfoHook: the log, the message hub and the checkpoints are mmengine's
RuntimeInfoHook's, with no host read of the losses between log intervals."""
import itertools
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.hooks import LoggerHook
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

from selfemb.engine.hooks import DeferredRuntimeInfoHook
from selfemb.utils.sync_guard import sync_guard
from tests.test_engine.test_nonfinite_guard_hook import Points

NAMES = itertools.count()


class Toy(BaseModel):
    """Two loss terms, a logged count, and a term that appears from iteration 5 on."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, inputs, idx=None, mode='loss') -> dict:  # Points' indices unused
        it = MessageHub.get_current_instance().get_info('iter')
        z = self.fc(inputs)
        out = dict(loss_a=z.pow(2).mean(), loss_b=0.1 * z.abs().mean(),
                   positives=(z > 0).float().sum())
        if it >= 5:
            out['loss_late'] = z.sum() * 1e-3
        return out


def train(work_dir: Path, runtime_info: str, by_epoch_ckpt: bool = False):
    torch.manual_seed(0)
    checkpoint = (dict(type='CheckpointHook', interval=1) if by_epoch_ckpt else
                  dict(type='CheckpointHook', interval=5, by_epoch=False))
    runner = Runner(
        model=Toy(), work_dir=str(work_dir), experiment_name=f'deferred{next(NAMES)}',
        default_scope='selfemb',
        train_dataloader=dict(dataset=Points(), batch_size=3, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=3),  # 6 iterations, the last of 1 sample
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        log_processor=dict(window_size=3, by_epoch=True),
        default_hooks=dict(runtime_info=dict(type=runtime_info), checkpoint=checkpoint,
                           logger=dict(type='LoggerHook', interval=4, ignore_last=False)))
    runner.train()
    log = next(work_dir.glob('*/*.log')).read_text()
    lines = [re.sub(r'(eta|time|data_time|memory): \S+', '', line.split(' - ')[-1])
             for line in log.splitlines() if 'Epoch(train)' in line]
    return runner, lines


def scalars(hub_state: dict) -> dict:
    return {k: (buf._log_history.tolist(), buf._count_history.tolist())
            for k, buf in hub_state['log_scalars'].items() if k.startswith('train/')
            and k not in ('train/time', 'train/data_time')}


@pytest.mark.parametrize('by_epoch_ckpt', [False, True])
def test_log_hub_and_checkpoints_are_mmengines(tmp_path, by_epoch_ckpt):
    ours, our_log = train(tmp_path / 'ours', 'DeferredRuntimeInfoHook', by_epoch_ckpt)
    theirs, their_log = train(tmp_path / 'theirs', 'RuntimeInfoHook', by_epoch_ckpt)
    assert len(our_log) == 6 and our_log == their_log  # iterations 4, 6 of each epoch
    assert 'loss_late' in our_log[-1] and 'positives' in our_log[0]
    assert list(ours.message_hub.log_scalars) == list(theirs.message_hub.log_scalars)
    assert scalars(ours.message_hub.state_dict()) == scalars(theirs.message_hub.state_dict())
    names = sorted(p.name for p in (tmp_path / 'ours').glob('*.pth'))
    assert names == sorted(p.name for p in (tmp_path / 'theirs').glob('*.pth')) and names
    for name in names:  # iteration 5, 10, 15 (mid-epoch) or every epoch end
        mine = torch.load(tmp_path / 'ours' / name, weights_only=False)['message_hub']
        ref = torch.load(tmp_path / 'theirs' / name, weights_only=False)['message_hub']
        assert scalars(mine) == scalars(ref), name


def test_iterations_between_log_intervals_read_nothing_on_the_host():
    hub = MessageHub.get_instance(f'deferred{next(NAMES)}')
    logger = LoggerHook(interval=10)
    runner = SimpleNamespace(message_hub=hub, hooks=[logger], iter=0, max_iters=100,
                             train_dataloader=range(50))
    hook = DeferredRuntimeInfoHook()
    losses = [dict(loss=torch.tensor(float(i)), n=torch.tensor(i)) for i in range(10)]
    hook.after_train_iter(runner, 0, outputs=losses[0])  # new keys: written at once
    assert hub.log_scalars['train/loss'].current() == 0.0
    with sync_guard('cpu'):
        for i in range(1, 9):
            runner.iter = i
            hook.after_train_iter(runner, i, outputs=losses[i])
    assert hub.log_scalars['train/loss'].current() == 0.0  # still on the device
    runner.iter = 9
    hook.after_train_iter(runner, 9, outputs=losses[9])  # the logger prints: flushed
    history = hub.log_scalars['train/n']._log_history.tolist()
    assert history == list(range(10))
    assert hub.log_scalars['train/loss']._log_history.tolist() == [float(i) for i in range(10)]
    with pytest.raises(ValueError, match='max_pending'):
        DeferredRuntimeInfoHook(max_pending=0)
