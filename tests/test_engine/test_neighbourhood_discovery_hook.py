"""NeighbourhoodDiscoveryHook and RoundMultiStepLR: unit tests on a stand-in runner, a
real tiny mmengine Runner with configs/and/r18_fmnist.py, and 2 gloo processes."""
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger

import selfemb.engine.hooks.neighbourhood_discovery_hook as hook_module
from selfemb.engine.hooks import NeighbourhoodDiscoveryHook
from selfemb.engine.runner import build_runner
from selfemb.engine.schedulers import RoundMultiStepLR
from selfemb.models.heads import SuperANDHead
from selfemb.models.memories import NeighbourhoodMemory
from selfemb.models.utils import entropy_and_neighbours, select_anchors
from tests._dist_utils import run_in_processes
from tests.conftest import write_fashion_mnist

ROOT = Path(__file__).resolve().parents[2]


# ----- RoundMultiStepLR ---------------------------------------------------------------

def lr_schedule(epochs: int, start_state=None, **kwargs):
    """The lr of every epoch from ``start`` on, stepping like ParamSchedulerHook."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.03)
    scheduler = RoundMultiStepLR(optimizer, **kwargs)
    if start_state is not None:
        optimizer.load_state_dict(start_state[0])
        scheduler.load_state_dict(start_state[1])
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        scheduler.step()
    return lrs, (optimizer.state_dict(), scheduler.state_dict())


def test_round_lr_restarts_every_round_exactly():
    kwargs = dict(epochs_per_round=10, milestones=[4, 6, 8], gamma=0.1)
    lrs, _ = lr_schedule(25, **kwargs)
    one_round = [0.03] * 4 + [0.03 * 0.1] * 2 + [0.03 * 0.1**2] * 2 + [0.03 * 0.1**3] * 2
    assert lrs == one_round * 2 + one_round[:5]  # bit for bit, no drift across rounds
    _, state = lr_schedule(13, **kwargs)  # "resume" after 13 epochs
    resumed, _ = lr_schedule(12, start_state=state, **kwargs)
    assert resumed == lrs[13:]
    # mmengine sets end = max_epochs: a 5-epoch run resumed with 25 epochs continues too
    _, short = lr_schedule(5, end=5, **kwargs)
    resumed, _ = lr_schedule(20, start_state=short, end=25, **kwargs)
    assert resumed == lrs[5:]


@pytest.mark.parametrize('kwargs', [dict(epochs_per_round=0, milestones=[]),
                                    dict(epochs_per_round=10, milestones=[10]),
                                    dict(epochs_per_round=10, milestones=[6, 4]),
                                    dict(epochs_per_round=10, milestones=[4], gamma=0.0)])
def test_round_lr_rejects_bad_arguments(kwargs):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.03)
    with pytest.raises(ValueError, match='epochs_per_round|milestones|gamma'):
        RoundMultiStepLR(optimizer, **kwargs)


# ----- the hook on a stand-in runner --------------------------------------------------

class Model(torch.nn.Module):

    def __init__(self, n: int = 64, k: int = 1) -> None:
        super().__init__()
        self.memory = NeighbourhoodMemory(feat_dim=8, num_neighbours=k)
        self.memory.setup(n, seed=0)


def stand_in_runner(model: torch.nn.Module, labels=None) -> SimpleNamespace:
    name = f'and-test-{uuid.uuid4().hex}'
    dataset = SimpleNamespace() if labels is None else SimpleNamespace(get_gt_labels=lambda: labels)
    scalars = []
    return SimpleNamespace(
        model=model, epoch=0, message_hub=MessageHub.get_instance(name),
        logger=MMLogger.get_instance(name), train_dataloader=SimpleNamespace(dataset=dataset),
        visualizer=SimpleNamespace(add_scalars=lambda d, step: scalars.append((step, d))),
        scalars=scalars)


def perturb(memory: NeighbourhoodMemory, seed: int) -> None:
    """Stand-in for an epoch of training: move the bank."""
    noise = torch.randn(memory.bank.shape, generator=torch.Generator().manual_seed(seed))
    memory.bank.copy_(F.normalize(memory.bank + 0.3 * noise, dim=1))


def run_epochs(hook, runner, epochs) -> list:
    """Call before_train_epoch for ``epochs``; returns (epoch, round, #anchors) of every
    discovery."""
    events = []
    for epoch in epochs:
        runner.epoch = epoch
        before = int(runner.model.memory.round_idx)
        hook.before_train_epoch(runner)
        memory = runner.model.memory
        if int(memory.round_idx) != before:
            events.append((epoch, int(memory.round_idx), int(memory.anchor.sum())))
        perturb(memory, epoch)
    return events


def test_rounds_anchor_counts_and_no_recompute_mid_round():
    labels = [i % 4 for i in range(64)]
    runner = stand_in_runner(Model(), labels)
    hook = NeighbourhoodDiscoveryHook(epochs_per_round=3, select_rate=0.25, k=1)
    events = run_epochs(hook, runner, range(16))
    assert events == [(3, 1, 16), (6, 2, 32), (9, 3, 48), (12, 4, 64), (15, 5, 64)]
    info = runner.message_hub.get_info('neighbourhood')
    assert info['round'] == 5 and info['num_anchors'] == 64
    assert 0.0 <= info['consistency'] <= 1.0
    assert runner.message_hub.get_info('and_round') == 5
    assert runner.message_hub.get_info('and_epoch_in_round') == 0
    assert [step for step, _ in runner.scalars] == [3, 6, 9, 12, 15]
    assert set(runner.scalars[0][1]) == {'and/num_anchors', 'and/consistency'}


def test_every_epoch_writes_the_ue_weight_into_the_super_and_head():
    """Super-AND's UE weight is device state the hook writes from the runner's epoch (so
    a resumed run, whose before_train_epoch sees the restored epoch, gets it back)."""
    model = Model()
    model.head = SuperANDHead(ue_step=2, ue_factor=0.2)
    runner = stand_in_runner(model)
    hook = NeighbourhoodDiscoveryHook(epochs_per_round=5)
    weights = []
    for epoch in (0, 1, 2, 3, 4, 5, 9):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        weights.append((float(model.head.ue_weight), model.head.ue_active))
    assert weights == [(0.0, False), (0.0, False), (pytest.approx(0.2), True),
                       (pytest.approx(0.2), True), (pytest.approx(0.4), True), (0.0, False),
                       (pytest.approx(0.4), True)]
    saved = model.state_dict()
    assert not any('ue_weight' in key for key in saved)  # checkpoint keys unchanged
    resumed = Model()  # a new process resumed at epoch 7 (round 1, t = 2)
    resumed.head = SuperANDHead(ue_step=2, ue_factor=0.2)
    resumed.load_state_dict(saved)
    runner = stand_in_runner(resumed)
    runner.epoch = 7
    NeighbourhoodDiscoveryHook(epochs_per_round=5).before_train_epoch(runner)
    assert float(resumed.head.ue_weight) == pytest.approx(0.2) and resumed.head.ue_active


def test_discovery_is_lowest_entropy_with_nearest_neighbour():
    runner = stand_in_runner(Model(k=2))  # no labels: no consistency
    hook = NeighbourhoodDiscoveryHook(epochs_per_round=2, select_rate=0.25, k=2, chunk_size=5)
    memory = runner.model.memory
    memory.update(torch.arange(8), F.normalize(torch.randn(8, 8), dim=1))  # queued
    runner.epoch = 2
    hook.before_train_epoch(runner)
    bank = memory.bank.clone()  # the queued update was flushed before discovery
    entropy, neighbours = entropy_and_neighbours(bank, 2, 0.1)
    assert torch.equal(memory.anchor, select_anchors(entropy, 16))
    assert torch.equal(memory.neighbours, neighbours)
    assert runner.message_hub.get_info('neighbourhood')['consistency'] is None
    assert set(runner.scalars[0][1]) == {'and/num_anchors'}


def test_resume_mid_round_keeps_anchors_and_at_boundary_recomputes_identically():
    hook = NeighbourhoodDiscoveryHook(epochs_per_round=3)
    full = stand_in_runner(Model())
    run_epochs(hook, full, range(5))  # rounds 0 and 1 up to epoch 4
    saved = {key: value.clone() for key, value in full.model.state_dict().items()}
    run_epochs(hook, full, range(5, 7))  # epoch 5, then round 2 at epoch 6

    resumed = stand_in_runner(Model())  # new process: setup, then load the checkpoint
    resumed.model.load_state_dict(saved)
    mid_round = run_epochs(NeighbourhoodDiscoveryHook(epochs_per_round=3), resumed, [5, 6])
    assert mid_round == [(6, 2, 32)]  # nothing at epoch 5 (mid-round), round 2 at 6
    for key, value in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key


def test_hook_checks_its_memory_and_arguments():
    with pytest.raises(ValueError, match='num_neighbours=1'):
        NeighbourhoodDiscoveryHook(1, k=2).before_run(stand_in_runner(Model(k=1)))
    with pytest.raises(TypeError, match='has 0'):
        NeighbourhoodDiscoveryHook(1).before_run(stand_in_runner(torch.nn.Linear(2, 2)))
    with pytest.raises(ValueError, match='select_rate=0'):
        NeighbourhoodDiscoveryHook(1, select_rate=0)
    with pytest.raises(ValueError, match="'fp64'"):
        NeighbourhoodDiscoveryHook(1, precision='fp64')


# ----- a real Runner: configs/and/r18_fmnist.py on tiny data --------------------------

@pytest.fixture(scope='module')
def tiny32(tmp_path_factory) -> Path:
    """32 Fashion-MNIST-format training images: a fast CPU epoch of ResNet-18."""
    return write_fashion_mnist(tmp_path_factory.mktemp('fmnist32'), num_train=32, num_test=16)


def tiny_and_cfg(data_root, work_dir, epochs_per_round: int = 1, rounds: int = 2) -> Config:
    """configs/and/r18_fmnist.py on tiny images, ``rounds x epochs_per_round``."""
    cfg = Config.fromfile(ROOT / 'configs/and/r18_fmnist.py')
    cfg.train_dataloader.dataset.data_root = str(data_root)
    cfg.train_dataloader.batch_size = 16
    cfg.custom_hooks = []
    cfg.param_scheduler = [dict(cfg.param_scheduler[0], epochs_per_round=epochs_per_round,
                                milestones=[])]
    cfg.train_cfg.max_epochs = rounds * epochs_per_round
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 1
    cfg.work_dir = str(work_dir)
    return cfg


def test_two_rounds_in_a_real_runner(tiny32, tmp_path, monkeypatch):
    seen = []

    def spy(bank, *args):
        seen.append(bank.clone())
        return entropy_and_neighbours(bank, *args)

    monkeypatch.setattr(hook_module, 'entropy_and_neighbours', spy)
    runner = build_runner(tiny_and_cfg(tiny32, tmp_path))
    runner.train()
    memory = runner.model.memory
    assert len(seen) == 1 and int(memory.round_idx) == 1  # round 1 only, at epoch 1
    entropy, neighbours = entropy_and_neighbours(seen[0], 1, 0.1)
    assert int(memory.anchor.sum()) == 8  # 25 % of 32
    assert torch.equal(memory.anchor, select_anchors(entropy, 8))
    assert torch.equal(memory.neighbours, neighbours)
    assert (memory.neighbours[:, 0] != torch.arange(32)).all()
    info = runner.message_hub.get_info('neighbourhood')
    assert info['num_anchors'] == 8 and info['consistency'] is not None
    ckpt = torch.load(tmp_path / 'epoch_2.pth', map_location='cpu', weights_only=False)
    assert int(ckpt['state_dict']['memory.round_idx']) == 1
    assert torch.equal(ckpt['state_dict']['memory.anchor'], memory.anchor)
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'AND round 1 (epoch 1): 8 anchors of 32 samples' in log


def _train_on_each_rank(data_root: str, work_dir: str) -> dict:
    cfg = tiny_and_cfg(data_root, work_dir)
    cfg.launcher = 'pytorch'
    cfg.model_wrapper_cfg = dict(cfg.model_wrapper_cfg, device_ids=None)
    runner = build_runner(cfg)
    runner.train()
    memory = runner.model.module.memory
    return {key: value.clone() for key, value in memory.state_dict().items()}


@pytest.mark.dist
def test_two_gloo_processes_hold_identical_neighbourhoods(tiny32, tmp_path):
    states = run_in_processes(_train_on_each_rank, 2, str(tiny32), str(tmp_path),
                              timeout=300.0)
    assert int(states[0]['round_idx']) == 1 and int(states[0]['anchor'].sum()) == 8
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key
