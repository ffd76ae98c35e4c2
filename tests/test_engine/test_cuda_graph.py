"""The CUDA-graph training step on the CPU: the static step that a GPU captures equals the
eager ``train_step`` bit for bit, and every refusal / re-capture rule holds (GPU-only
checks: test_cuda_graph_gpu.py)."""
import argparse
import copy
import uuid
from pathlib import Path
from typing import Optional

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample
from torch import nn

from selfemb.apis.model import build_model_from_cfg
from selfemb.engine.cuda_graph import (
    CudaGraphHook,
    GraphedTrainStep,
    GraphRefusedError,
    graph_options,
    refusals,
)
from selfemb.engine.cuda_graph.state import StaticBatch, batch_signature
from selfemb.engine.optim_wrappers import NonFiniteSkipOptimWrapper
from selfemb.engine.runner import build_runner
from selfemb.models.algorithms import InterCLR
from selfemb.models.memories import ODCMemory
from selfemb.models.utils.samples import IndexedSamples, sample_indices
from selfemb.registry import MODELS
from tests.tool_loader import load_tool

from ..test_configs.test_config_smoke import OVERRIDES, shrink

ROOT = Path(__file__).resolve().parents[2]
FMNIST = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob('configs/*/r18_fmnist*.py'))


# ---- a tiny model: the rules, fast ----------------------------------------------------------
class Tiny(BaseModel):
    """``loss = scale * mean(lin(x)^2)``, a step with nothing host-side."""

    graph_blocker = None

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(4, 3)
        self.register_buffer('seen', torch.zeros(()))
        self.scale = 1.0

    def forward(self, inputs, data_samples=None, mode='loss'):
        self.seen.add_(1)
        return dict(loss=self.scale * self.lin(inputs).pow(2).mean())


class Cache(Tiny):
    """Keeps each step's features in a plain attribute: Python-held state."""

    def forward(self, inputs, data_samples=None, mode='loss'):
        self.cache = inputs.detach() * 2
        return super().forward(inputs, data_samples, mode)


def tiny(fused: bool = False, model_cls=Tiny, **wrapper):
    model = model_cls()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3,
                          fused=fused)
    return model, OptimWrapper(sgd, **wrapper)


def batch(n: int = 6, seed: int = 0) -> dict:
    return dict(inputs=torch.randn(n, 4, generator=torch.Generator().manual_seed(seed)))


def graphed(model, wrapper, warmup=1, **kwargs):
    lines = []
    step = GraphedTrainStep(model, wrapper, warmup=warmup, log=lines.append, **kwargs)
    return step, lines


@pytest.mark.parametrize('fused', [False, True])
def test_static_step_equals_eager_with_a_changing_lr(fused):
    eager_model, eager_wrapper = tiny(fused)
    model, wrapper = tiny(fused)
    step, lines = graphed(model, wrapper)
    for i in range(5):
        data = batch(seed=i)
        expected = eager_model.train_step(copy.deepcopy(data), eager_wrapper)
        got = step(data, wrapper)
        assert torch.equal(got['loss'], expected['loss'])
        for group in (wrapper.optimizer.param_groups[0], eager_wrapper.optimizer.param_groups[0]):
            group['lr'] *= 0.5 if fused or i == 1 else 1.0  # a baked lr may change, rarely
    for (name, p), q in zip(model.named_parameters(), eager_model.parameters()):
        assert torch.equal(p, q), name
        assert torch.equal(wrapper.optimizer.state[p]['momentum_buffer'],
                           eager_wrapper.optimizer.state[q]['momentum_buffer'])
    assert torch.equal(model.seen, eager_model.seen)
    assert isinstance(wrapper.optimizer.param_groups[0]['lr'], float)  # for the logger
    assert step.captures == (1 if fused else 2)  # a baked lr change re-captures once
    assert step.replays == 4 - step.captures
    if not fused:
        assert any('lr 0.1 -> 0.05' in line for line in lines), lines


def test_baked_lr_changed_every_step_is_refused():
    model, wrapper = tiny(fused=False)
    step, _ = graphed(model, wrapper)
    with pytest.raises(GraphRefusedError, match='two steps in a row.*fused=True'):
        for i in range(5):
            step(batch(seed=i), wrapper)
            wrapper.optimizer.param_groups[0]['lr'] *= 0.5


def move(param: nn.Parameter) -> None:
    """The parameter's data to a new address (as loading a state by assignment does)."""
    with torch.no_grad():
        param.set_(param.detach().clone())


def test_recapture_names_what_changed():
    model, wrapper = tiny(fused=True)
    step, lines = graphed(model, wrapper)
    changes = [lambda: wrapper.optimizer.param_groups[0].update(momentum=0.5),
               lambda: setattr(model, 'scale', 2.0),
               lambda: setattr(model, 'seen', torch.zeros(())),
               lambda: move(model.lin.weight),
               lambda: model.eval()]
    step(batch(), wrapper), step(batch(), wrapper)  # warm-up, capture
    for change in changes:
        change()
        step(batch(), wrapper)
        step(batch(), wrapper)  # replayed: no re-capture
    notes = [line for line in lines if 're-capturing' in line]
    assert len(notes) == len(changes) and step.captures == 1 + len(changes)
    for note, words in zip(notes, ['momentum 0.9 -> 0.5', "['scale'] of module '(model)'",
                                   'a buffer', 'a parameter', "['training'] of module"]):
        assert words in note, note


def test_another_shape_runs_eagerly_with_one_line_then_is_captured():
    model, wrapper = tiny()
    step, lines = graphed(model, wrapper, warmup=2, max_graphs=2)
    for _ in range(4):
        step(batch(6), wrapper)
    for _ in range(4):
        step(batch(5), wrapper)
    for _ in range(3):
        step(batch(4), wrapper)  # a third shape stays eager
    eager_lines = [line for line in lines if 'another shape' in line]
    assert len(eager_lines) == 2, lines
    assert '5x4 float32' in eager_lines[0] and 'then is captured' in eager_lines[0]
    assert 'max_graphs=2' in eager_lines[1]
    assert step.captures == 2 and step.replays == 2


def test_state_kept_in_python_is_refused():
    model, wrapper = tiny(model_cls=Cache)
    step, _ = graphed(model, wrapper, warmup=2)
    step(batch(), wrapper)
    with pytest.raises(GraphRefusedError, match=r'changes \(model\)\.cache'):
        step(batch(), wrapper)


def test_refusals_name_the_setting():
    model, wrapper = tiny()
    assert refusals(model, wrapper) == []
    cases = {
        'accumulative_counts=2': tiny(accumulative_counts=2),
        'clip_grad': tiny(clip_grad=dict(max_norm=1.0)),
    }
    skip_model = Tiny()
    cases['NonFiniteSkipOptimWrapper'] = (skip_model, NonFiniteSkipOptimWrapper(
        torch.optim.SGD(skip_model.parameters(), lr=0.1)))
    scaled_model, scaled = tiny()
    scaled.loss_scaler = torch.amp.GradScaler('cpu')
    cases['has a loss scaler (GradScaler)'] = (scaled_model, scaled)
    cases['several optimizers'] = (model, OptimWrapperDict(a=wrapper))
    undeclared = nn.Linear(2, 2)
    cases['Linear does not declare its step static'] = (undeclared, wrapper)
    blocked = Tiny()
    blocked.graph_blocker = 'reads the host'
    cases['Tiny reads the host'] = (blocked, wrapper)
    for words, (m, w) in cases.items():
        reasons = refusals(m, w)
        assert len(reasons) == 1 and words in reasons[0], (words, reasons)
    with pytest.raises(GraphRefusedError, match='(?s)accumulative_counts=2.*Train without it'):
        GraphedTrainStep(*cases['accumulative_counts=2'])


def test_ddp_unused_parameter_search_is_refused(tmp_path):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/pg', rank=0, world_size=1)
    try:
        model, wrapper = tiny()
        assert refusals(DistributedDataParallel(model), wrapper) == []
        ddp = DistributedDataParallel(Tiny(), find_unused_parameters=True)
        assert 'find_unused_parameters=True' in refusals(ddp, wrapper)[0]
    finally:
        dist.destroy_process_group()


def test_arguments_and_installation_errors():
    model, wrapper = tiny()
    with pytest.raises(ValueError, match='warmup >= 1'):
        GraphedTrainStep(model, wrapper, warmup=0)
    model.train_step = GraphedTrainStep(model, wrapper)
    with pytest.raises(RuntimeError, match='already replaced'):
        GraphedTrainStep(model, wrapper)
    with pytest.raises(ValueError, match='warmup >= 1'):
        CudaGraphHook(warmup=0)
    assert graph_options(Config(dict(cuda_graph=dict(enable=False)))) is None
    assert graph_options(Config(dict(cuda_graph=dict(enable=True, warmup=5)))) == {'warmup': 5}
    with pytest.raises(KeyError, match=r"no \['warm_up'\]"):
        graph_options(Config(dict(cuda_graph=dict(enable=True, warm_up=5))))


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message without a GPU')
def test_train_cuda_graph_flag_needs_a_gpu():
    train = load_tool('tools/train.py', 'train_tool')
    args = argparse.Namespace(launcher='none', cfg_options=None, work_dir='w', config='c.py',
                              allow_mismatch=False, trust_checkpoint=False, amp=False,
                              channels_last=False, resume=None, cuda_graph=False)
    cfg = train.merge_args(Config(dict(optim_wrapper=dict())), args)
    assert cfg.cuda_graph == dict(enable=False, warmup=3, max_graphs=2)
    args.cuda_graph, args.cfg_options = True, {'cuda_graph.warmup': 5}
    with pytest.raises(SystemExit, match='--cuda-graph .* needs a GPU'):
        train.merge_args(Config(dict(optim_wrapper=dict())), args)


# ---- the Fashion-MNIST configs --------------------------------------------------------------
@pytest.mark.parametrize('config', FMNIST)
def test_fmnist_configs_graph_ready_or_refused_with_a_reason(config):
    model = build_model_from_cfg(Config.fromfile(ROOT / config))
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    reasons = refusals(model, wrapper)
    blocked = {'interclr/': 'ODCMemory flush on the host'}
    reason = next((words for method, words in blocked.items() if method in config), None)
    if reason is None:
        assert reasons == []
    else:
        assert len(reasons) == 1 and reasons[0].startswith(type(model).__name__), reasons
        assert reason in reasons[0]


class Recorder(Hook):
    """Every iteration's log variables and learning rates (as the logger reads them)."""

    def __init__(self) -> None:
        self.losses, self.lrs = [], []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.losses.append({k: v.detach().clone() for k, v in outputs.items()})
        self.lrs.append(runner.optim_wrapper.get_lr()['lr'])


def run(config: str, data_root: Path, work_dir: Path, graph: bool, fused: bool,
        warmup: int = 1, extra: Optional[dict] = None):
    """Four iterations of ``config`` on 16 tiny images (batch 4), an lr that changes by
    iteration; with ``graph``: ``cuda_graph`` (``warmup`` eager steps, then the static
    step); ``extra`` options are merged last."""
    cfg = Config.fromfile(ROOT / config)
    shrink(cfg, {'FashionMNIST': data_root})
    for prefix, options in OVERRIDES.items():
        if config.startswith(prefix):
            cfg.merge_from_dict(options)
    cfg.merge_from_dict({'train_dataloader.dataset.indices': 16,
                         'train_dataloader.batch_size': 4,
                         'custom_hooks.knn': None, 'default_hooks.checkpoint.interval': 99,
                         'default_hooks.checkpoint.save_last': False,
                         'optim_wrapper.optimizer.fused': fused})
    # fused: the lr changes every iteration (a device tensor); else once (baked: re-capture)
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.25, by_epoch=False, begin=0,
                                end=4) if fused else
                           dict(type='MultiStepLR', by_epoch=False, milestones=[2], gamma=0.5)]
    if 'discovery' in cfg.get('method_hooks', {}):  # AND: the round length RoundMultiStepLR had
        cfg.method_hooks.discovery.epochs_per_round = 1
    cfg.merge_from_dict(extra or {})
    cfg.cuda_graph = dict(enable=graph, warmup=warmup)
    cfg.work_dir = str(work_dir)
    runner = build_runner(cfg)
    recorder = Recorder()
    runner.register_hook(recorder, 'LOWEST')
    runner.train()
    hooks = [h for h in runner.hooks if isinstance(h, CudaGraphHook)]
    assert len(hooks) == graph
    return runner, recorder, hooks[0].step if graph else None


@pytest.mark.parametrize('fused', [False, True], ids=['sgd', 'fused_sgd'])
@pytest.mark.parametrize('config', [
    'configs/isif/r18_fmnist.py',
    'configs/npid/r18_fmnist.py',
    'configs/and/r18_fmnist.py',
    'configs/cld/r18_fmnist.py',
    'configs/cld/r18_fmnist_moco.py',
    'configs/uic/r18_fmnist.py',
    pytest.param('configs/cld/r18_fmnist_lt.py', marks=pytest.mark.slow),  # CLD's model
    pytest.param('configs/isif/r18_fmnist_unseen.py', marks=pytest.mark.slow)])  # same model
def test_static_step_equals_eager_train_step_through_the_runner(config, fused, tiny_fmnist,
                                                                tmp_path):
    # a momentum encoder's first update copies the online weights (a one-time branch on
    # a Python count): the last warm-up step must be a later one
    warmup = 2 if config.endswith('_moco.py') else 1
    eager, eager_log, _ = run(config, tiny_fmnist, tmp_path / 'eager', False, fused)
    graph, graph_log, step = run(config, tiny_fmnist, tmp_path / 'graph', True, fused, warmup)
    # sgd: the lr, baked, changes before iteration 2: a re-capture after a warm-up of 1
    assert step.captures == (2 if not fused and warmup == 1 else 1)
    assert step.captures + step.replays == 4 - warmup
    # the schedule's numbers, read by the logger, are those of the eager run
    assert len(graph_log.losses) == len(eager_log.losses) == 4
    assert_same_training(eager, eager_log, graph, graph_log)



@pytest.mark.parametrize('fused', [False, True], ids=['sgd', 'fused_sgd'])
def test_cld_release_options_static_step_equals_eager(fused, tiny_fmnist, tmp_path):
    """CLD with the official code's centroids and bank order (written during backward)."""
    config = 'configs/cld/r18_fmnist.py'
    extra = {'model.group_head.centroids': 'release', 'model.bank_update': 'release'}
    eager, eager_log, _ = run(config, tiny_fmnist, tmp_path / 'eager', False, fused,
                              extra=extra)
    graph, graph_log, step = run(config, tiny_fmnist, tmp_path / 'graph', True, fused,
                                 extra=extra)
    assert step.captures + step.replays == 3
    assert_same_training(eager, eager_log, graph, graph_log)

def assert_same_training(eager, eager_log: Recorder, graph, graph_log: Recorder) -> None:
    """The graphed run's log variables, learning rates, model state (non-persistent
    buffers included) and optimizer state equal the eager run's bit for bit."""
    assert graph_log.lrs == eager_log.lrs and len(set(map(tuple, eager_log.lrs))) > 1
    assert all(isinstance(lr, float) for lrs in graph_log.lrs for lr in lrs)
    for got, expected in zip(graph_log.losses, eager_log.losses):
        assert got.keys() == expected.keys()
        for key in got:
            assert torch.equal(got[key], expected[key]), key
    eager_state, graph_state = dict(eager.model.named_buffers()), dict(graph.model.named_buffers())
    eager_state.update(eager.model.state_dict())
    graph_state.update(graph.model.state_dict())
    for key in eager_state:
        assert torch.equal(graph_state[key], eager_state[key]), key
    eager_opt = eager.optim_wrapper.optimizer.state_dict()
    graph_opt = graph.optim_wrapper.optimizer.state_dict()
    for i, state in eager_opt['state'].items():
        assert torch.equal(graph_opt['state'][i]['momentum_buffer'], state['momentum_buffer'])
    assert graph_opt['param_groups'][0]['lr'] == eager_opt['param_groups'][0]['lr']
    assert 'train_step' not in vars(graph.model)  # uninstalled after training


@pytest.mark.parametrize('fused', [False, True], ids=['sgd', 'fused_sgd'])
def test_super_and_static_step_equals_eager_as_the_ue_weight_changes(fused, tiny_fmnist,
                                                                     tmp_path):
    """Super-AND through the Runner over three epochs of one round (8 images, batch 4),
    UE step 1: w = 0, 0.2, 0.4. Its switch from 0 (the term skipped) to 0.2 re-captures
    (with the sgd lr milestone, at the same iteration); the change to 0.4 is replayed.
    Trunks of 8 base channels: the steps of the full width take seconds on the CPU."""
    config = 'configs/super_and/r18_fmnist.py'
    extra = {'train_dataloader.dataset.indices': 8, 'train_cfg.max_epochs': 3,
             'method_hooks.discovery.epochs_per_round': 3, 'model.head.ue_step': 1,
             'model.backbone.trunk.stem_channels': 8, 'model.backbone.trunk.base_channels': 8,
             'model.neck.in_channels': 128}
    eager, eager_log, _ = run(config, tiny_fmnist, tmp_path / 'eager', False, fused,
                              extra=extra)
    graph, graph_log, step = run(config, tiny_fmnist, tmp_path / 'graph', True, fused,
                                 extra=extra)
    weights = [float(log['ue_weight']) for log in eager_log.losses]
    assert weights == pytest.approx([0, 0, 0.2, 0.2, 0.4, 0.4])
    assert step.captures == 2 and step.replays == 3
    assert len(graph_log.losses) == 6
    assert_same_training(eager, eager_log, graph, graph_log)
    assert float(graph.model.head.ue_weight) == pytest.approx(0.4)


def tiny_super_and(device: str = 'cpu', seed: int = 0):
    """The tiny Super-AND of the model tests, UE step 1, round-1 neighbourhoods."""
    from tests.test_models.test_algorithms.test_super_and import CFG, N
    init_default_scope('selfemb')
    torch.manual_seed(seed)
    model = MODELS.build(dict(CFG, head=dict(CFG['head'], ue_step=1)))
    model.memory.setup(N, seed=seed)
    anchor = torch.arange(N) % 2 == 0
    model.memory.set_neighbourhoods(1, anchor, ((torch.arange(N) + 1) % N).view(N, 1))
    model.to(device)
    return model, OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))


def super_and_batch(seed: int, device: str = 'cpu') -> dict:
    gen = torch.Generator().manual_seed(seed)
    indices = torch.randperm(10, generator=gen)[:4]
    samples = IndexedSamples([DataSample(metainfo=dict(sample_idx=int(i))) for i in indices],
                             indices=indices.to(device))
    return dict(inputs=[torch.randn(4, 3, 8, 8, generator=gen).to(device) for _ in range(2)],
                data_samples=samples)


def check_super_and_follows_its_ue_weight(device: str, through_hub: bool, exact: bool) -> None:
    """A graphed tiny Super-AND against an eager one, their heads given the epochs as
    ``NeighbourhoodDiscoveryHook`` gives them between steps (``set_round_epoch``; with
    ``through_hub`` the message hub holds the epoch too, as in a run, which an eager step
    follows and a captured one must not bake in): a new w > 0 is replayed without
    re-capture, only w = 0 <-> w > 0 re-captures, and each step equals the eager one."""
    hub = MessageHub.get_instance(f'round_epoch_{uuid.uuid4().hex}')
    assert MessageHub.get_current_instance() is hub
    eager_model, eager_wrapper = tiny_super_and(device)
    model, wrapper = tiny_super_and(device)
    step, lines = graphed(model, wrapper)
    epochs = [1, 1, 2, 3, 0, 0, 2, 2]
    same = torch.equal if exact else (
        lambda a, b: torch.allclose(a, b, rtol=1e-4, atol=1e-5))
    for i, epoch in enumerate(epochs):
        if through_hub:
            hub.update_info('and_epoch_in_round', epoch)
        eager_model.head.set_round_epoch(epoch)
        model.head.set_round_epoch(epoch)
        data = super_and_batch(i, device)
        expected = eager_model.train_step(copy.deepcopy(data), eager_wrapper)
        got = step(data, wrapper)
        assert float(got['ue_weight']) == pytest.approx(0.2 * epoch), (i, lines)
        assert (float(got['loss_ue']) > 0) == (epoch > 0)
        for key in expected:
            assert same(got[key], expected[key]), (i, key)
    notes = [line for line in lines if 're-capturing' in line]
    assert len(notes) == 2 and all("['ue_active'] of module 'head'" in n for n in notes), notes
    assert step.captures == 3 and step.replays == len(epochs) - 1 - 3
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert same(p, q)
    if not through_hub:  # the buffer alone sets the weight: the same batch, twice the weight
        data = super_and_batch(0, device)
        before = step(data, wrapper)
        model.head.ue_weight.mul_(2)
        after = step(data, wrapper)
        assert float(after['ue_weight']) == 2 * float(before['ue_weight'])
        assert step.captures == 3
        assert hub.get_info('and_epoch_in_round') is None  # nothing went through the hub


@pytest.mark.parametrize('through_hub', [False, True], ids=['buffer_only', 'hub_too'])
def test_super_and_step_reads_its_ue_weight_from_the_buffer(through_hub):
    check_super_and_follows_its_ue_weight('cpu', through_hub, exact=True)


class Clustered(Tiny):
    """Updates an ODCMemory (InterCLR's) every step: its flush schedule is Python state."""

    def __init__(self) -> None:
        super().__init__()
        self.memory = ODCMemory(feat_dim=3, num_clusters=2)
        self.memory.setup(6)
        self.memory.init_clusters(torch.arange(6) % 2)

    def forward(self, inputs, data_samples=None, mode='loss'):
        self.memory.current_bank()
        self.memory.update(torch.arange(inputs.size(0)), self.lin(inputs).detach())
        return super().forward(inputs, data_samples, mode)


def test_python_held_memory_state_is_detected():
    """What InterCLR's graph_blocker declares: its ODCMemory keeps state in Python, which
    the step check names even without the declaration."""
    assert 'ODCMemory' in InterCLR.graph_blocker
    model, wrapper = tiny(model_cls=Clustered)
    step, _ = graphed(model, wrapper)
    with pytest.raises(GraphRefusedError, match=r'changes memory\._'):
        step(batch(), wrapper)


def test_static_batch_copies_the_carried_indices():
    samples = IndexedSamples([object(), object()], indices=torch.tensor([4, 7]))
    static = StaticBatch(dict(inputs=torch.zeros(2, 3), data_samples=samples), torch.device('cpu'))
    new = IndexedSamples([object(), object()], indices=torch.tensor([1, 2]))
    assert batch_signature(dict(inputs=torch.ones(2, 3), data_samples=new)) == \
        batch_signature(static.data)
    static.load(dict(inputs=torch.ones(2, 3), data_samples=new))
    held = static.data['data_samples']
    assert held.indices.tolist() == [1, 2] and held[0] is samples[0]  # the samples are kept
    assert held.indices is not samples.indices
    assert sample_indices(held, torch.device('cpu')).tolist() == [1, 2]
