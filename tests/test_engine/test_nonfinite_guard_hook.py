"""NonFiniteGuardHook + NonFiniteSkipOptimWrapper: stop on the first NaN/Inf loss, never save
a non-finite state, or skip bad steps without touching the model."""
import copy
import itertools
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine import dist
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MessageHub, MMLogger
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from selfemb.engine.hooks.nonfinite_guard_hook import (
    NonFiniteGuardHook,
    NonFiniteLossError,
    nonfinite_tensors,
)
from selfemb.engine.optim_wrappers import NonFiniteSkipOptimWrapper
from selfemb.models.memories import SimpleMemory
from tests._dist_utils import run_in_processes

ROOT = Path(__file__).resolve().parents[2]
NAMES = itertools.count()
NAN = float('nan')


class Points(Dataset):
    """16 fixed 4-d points with their index (a bank row each)."""

    def __init__(self) -> None:
        self.x = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.x[i], idx=i)


class Toy(BaseModel):
    """Linear -> BatchNorm -> features, pulled towards a SimpleMemory bank (NPID-like).

    ``nan_inputs``: global iterations whose inputs are made NaN (NaN loss, gradients, BN
    statistics and features); ``nan_grads``: iterations with a finite loss whose gradient
    is NaN (sqrt at 0)."""

    def __init__(self, nan_inputs=(), nan_grads=()) -> None:
        super().__init__()
        self.fc, self.bn = nn.Linear(4, 4), nn.BatchNorm1d(4)
        self.memory = SimpleMemory(feat_dim=4)
        self.memory.setup(16)
        self.nan_inputs, self.nan_grads = set(nan_inputs), set(nan_grads)

    def forward(self, inputs, idx, mode='loss') -> dict:
        it = MessageHub.get_current_instance().get_info('iter')
        self.memory.flush()
        z = self.bn(self.fc(inputs * NAN if it in self.nan_inputs else inputs))
        loss_fit = (z - self.memory.bank[idx]).pow(2).mean()
        w = self.fc.weight.abs() * 0 if it in self.nan_grads else self.fc.weight.pow(2)
        self.memory.update(idx, z.detach())
        return dict(loss_fit=loss_fit, loss_reg=1e-3 * w.sqrt().sum())


class Probe(Hook):
    """The full model + optimizer state before and after iteration ``at`` (bank flushed)."""

    priority = 'LOWEST'

    def __init__(self, at: int) -> None:
        self.at, self.states = at, []

    def snapshot(self, runner) -> None:
        runner.model.memory.flush()
        self.states.append(copy.deepcopy((runner.model.state_dict(),
                                          runner.optim_wrapper.optimizer.state_dict())))

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter == self.at:
            self.snapshot(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter == self.at:
            self.snapshot(runner)


def same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return torch.equal(a, b) if torch.is_tensor(a) else a == b


def runner_for(work_dir: Path, model: nn.Module, guard: dict, epochs: int = 3,
               wrapper: str = 'OptimWrapper', hooks=(), resume: bool = False,
               **wrapper_args) -> Runner:
    """4 iterations per epoch, a checkpoint every epoch; SGD with momentum + weight decay."""
    return Runner(
        model=model, work_dir=str(work_dir), experiment_name=f'guard{next(NAMES)}', resume=resume,
        default_scope='selfemb',
        train_dataloader=dict(dataset=Points(), batch_size=4, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=epochs),
        optim_wrapper=dict(type=wrapper, optimizer=dict(type='SGD', lr=0.1, momentum=0.9,
                                                        weight_decay=1e-2), **wrapper_args),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
                           logger=dict(type='LoggerHook', interval=50),
                           nonfinite_guard=dict(type='NonFiniteGuardHook', **guard)),
        custom_hooks=list(hooks))


# ---- stop ---------------------------------------------------------------------------------
@pytest.mark.parametrize('interval', [None, 50])
def test_stop_names_first_bad_iteration_and_term_and_saves_nothing(tmp_path, interval):
    # iteration index 5 = the 6th: epoch 2, its 2nd iteration; NaN weights from then on
    runner = runner_for(tmp_path, Toy(nan_inputs={5}), dict(check_interval=interval))
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    msg = str(err.value)
    assert 'iteration 6 (epoch 2, iteration 2/4 of the epoch)' in msg
    assert 'loss_fit=nan' in msg and 'loss_reg' not in msg.split('later')[0]
    assert 'a lower learning rate' in msg and 'epoch_1.pth): tools/train.py' in msg
    # on the CPU every iteration is read (stops at once); with interval 50, at epoch end
    assert runner.iter == (5 if interval is None else 8)
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_1.pth']
    assert (tmp_path / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')


def test_stop_on_nonfinite_grad_norm(tmp_path):
    runner = runner_for(tmp_path, Toy(nan_grads={2}), {}, clip_grad=dict(max_norm=10.0))
    with pytest.raises(NonFiniteLossError, match=r'iteration 3 \(epoch 1, iteration 3/4.*'
                       r'grad_norm=nan'):
        runner.train()
    assert not list(tmp_path.glob('*.pth'))


class SpoilBank(Hook):
    """Makes the last bank row NaN after the last iteration of epoch 1 (the loss stays finite)."""

    priority = 'LOW'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter == 3:
            runner.model.memory.flush()
            runner.model.memory.bank[15, 0] = NAN


def test_checkpoint_with_nonfinite_buffer_is_refused(tmp_path):
    runner = runner_for(tmp_path, Toy(), {}, hooks=[SpoilBank()])
    with pytest.raises(NonFiniteLossError, match=r'checkpoint about to be saved.*memory\.bank'):
        runner.train()
    assert not list(tmp_path.glob('*.pth'))


def test_nonfinite_tensors_names_floating_tensors_only():
    named = [('a', torch.ones(3)), ('b', torch.tensor([1.0, NAN])), ('c', torch.tensor([1, 2])),
             ('d', torch.tensor(float('inf'))), ('e', torch.zeros(0))]
    assert nonfinite_tensors(named) == ['b', 'd']


def test_bad_arguments():
    with pytest.raises(ValueError, match="'stop' or 'skip'"):
        NonFiniteGuardHook(action='ignore')
    with pytest.raises(ValueError, match='max_skips'):
        NonFiniteGuardHook(max_skips=0)


# ---- skip ---------------------------------------------------------------------------------
def test_wrapper_skips_nonfinite_update_entirely():
    p = nn.Parameter(torch.ones(3))
    wrapper = NonFiniteSkipOptimWrapper(torch.optim.SGD([p], lr=0.1, momentum=0.9,
                                                        weight_decay=0.1))
    wrapper.update_params((p * 2).sum())
    after_one = (p.detach().clone(), wrapper.optimizer.state[p]['momentum_buffer'].clone())
    for bad in (p.sum() * NAN, (p * torch.tensor([1.0, float('inf'), 1.0])).sum()):
        wrapper.update_params(bad)
        assert torch.equal(p, after_one[0]) and p.grad is None
        assert torch.equal(wrapper.optimizer.state[p]['momentum_buffer'], after_one[1])
    assert wrapper.num_skipped == 2
    wrapper.update_params((p * 2).sum())
    assert not torch.equal(p, after_one[0]) and wrapper.num_skipped == 2


def test_skip_needs_the_skipping_wrapper(tmp_path):
    runner = runner_for(tmp_path, Toy(), dict(action='skip'))
    with pytest.raises(TypeError, match='NonFiniteSkipOptimWrapper.*--amp'):
        runner.train()


def test_skip_leaves_model_optimizer_and_bank_unchanged_and_resume_keeps_count(tmp_path,
                                                                              monkeypatch):
    probe, nxt = Probe(at=5), Probe(at=6)
    runner = runner_for(tmp_path, Toy(nan_inputs={5}), dict(action='skip'), epochs=2,
                        wrapper='NonFiniteSkipOptimWrapper', hooks=[probe, nxt])
    runner.train()
    before, after = probe.states
    assert same(before, after)  # weights, BN statistics, bank, momentum buffers
    assert not same(nxt.states[0][0]['fc.weight'], nxt.states[1][0]['fc.weight'])  # trains on
    assert runner.message_hub.get_info('nonfinite_skips') == 1
    ckpt = torch.load(tmp_path / 'epoch_2.pth', weights_only=False)
    assert ckpt['message_hub']['runtime_info']['nonfinite_skips'] == 1
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values())
    monkeypatch.setenv('SELFEMB_TRUST_CHECKPOINTS', '1')  # mmengine's full checkpoint, ours
    resumed = runner_for(tmp_path, Toy(nan_inputs={9}), dict(action='skip'), epochs=3,
                         wrapper='NonFiniteSkipOptimWrapper', resume=True)
    resumed.train()
    assert resumed.message_hub.get_info('nonfinite_skips') == 2


def test_max_skips_in_a_row_stops(tmp_path):
    runner = runner_for(tmp_path, Toy(nan_inputs=set(range(5, 12))),
                        dict(action='skip', max_skips=3), wrapper='NonFiniteSkipOptimWrapper')
    with pytest.raises(NonFiniteLossError, match=r'skipped 3 optimizer steps in a row '
                       r'\(max_skips=3\), the last .*iteration 8 \(epoch 2, iteration 4/4'):
        runner.train()
    assert runner.iter == 7 and runner.optim_wrapper.num_skipped == 3
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_1.pth']


# ---- several processes --------------------------------------------------------------------
def _nan_on_rank_one() -> tuple:
    """Rank 1 alone sees a NaN loss (at iteration index 2) and a NaN gradient."""
    rank = dist.get_rank()
    p = nn.Parameter(torch.ones(2))
    wrapper = NonFiniteSkipOptimWrapper(torch.optim.SGD([p], lr=0.1))
    wrapper.update_params((p * (NAN if rank == 1 else 1.0)).sum())
    hook = NonFiniteGuardHook(check_interval=50)
    runner = SimpleNamespace(iter=0, epoch=0, train_loop=None, work_dir=tempfile.mkdtemp(),
                             logger=MMLogger.get_instance(f'nfg{rank}'), optim_wrapper=wrapper)
    for it in range(4):
        runner.iter = it
        hook._record(it, dict(loss=torch.tensor(NAN if rank == 1 and it >= 2 else 1.0)))
    try:
        hook.check(runner)
    except NonFiniteLossError as err:
        return str(err), wrapper.num_skipped, p.detach().clone()
    return None, wrapper.num_skipped, p.detach().clone()


@pytest.mark.dist
def test_every_rank_skips_and_stops_together():
    (msg0, skips0, p0), (msg1, skips1, p1) = run_in_processes(_nan_on_rank_one, 2)
    assert skips0 == skips1 == 1 and torch.equal(p0, torch.ones(2))
    assert msg0.startswith('non-finite loss at iteration 3: loss=on another rank')
    assert msg1.startswith('non-finite loss at iteration 3: loss=nan')


# ---- the reproduced problem: ISIF with an exploding learning rate ----------------------------
def test_exploding_lr_stops_and_keeps_last_good_checkpoint(tmp_path, tiny_fmnist):
    cfg = Config.fromfile(ROOT / 'configs/isif/r18_fmnist.py')
    cfg.merge_from_dict({
        'train_dataloader.batch_size': 8, 'train_dataloader.dataset.indices': 32,
        'train_dataloader.dataset.data_root': str(tiny_fmnist),
        'train_cfg.max_epochs': 4, 'param_scheduler.0.milestones': [1],
        'param_scheduler.0.gamma': 1e13, 'default_hooks.checkpoint.interval': 1,
        'default_hooks.nonfinite_guard': dict(type='NonFiniteGuardHook')})
    cfg.custom_hooks = []  # kNN monitor off: nothing else would notice
    cfg.work_dir, cfg.experiment_name = str(tmp_path), f'guard{next(NAMES)}'
    runner = Runner.from_cfg(cfg)
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    assert f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}, iteration ' in str(err.value)
    assert runner.epoch >= 1 and 'non-finite loss at' in str(err.value)
    assert ': loss=' in str(err.value)
    saved = sorted(tmp_path.glob('*.pth'))
    assert saved and saved[0].name == 'epoch_1.pth'
    for path in saved:
        state = torch.load(path, weights_only=False)['state_dict']
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    assert (tmp_path / 'last_checkpoint').read_text().strip().endswith(saved[-1].name)
