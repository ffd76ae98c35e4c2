"""The CUDA-graph training step on a GPU: graphed equals eager, ``--resume`` of a graphed run
equals the uninterrupted run, the augmentation graph's warm-up draws no random numbers.
Skipped without CUDA (``scripts/gpu_figures_cuda_graph.sh`` runs them on a GPU)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from selfemb.engine.cuda_graph import GraphedTrainStep, GraphRefusedError
from selfemb.models.data_preprocessors import SelfSupPreprocessor

from .test_cuda_graph import Tiny, batch, check_super_and_follows_its_ue_weight, graphed, tiny

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')

ROOT = Path(__file__).resolve().parents[2]
MEAN, STD = [72.94] * 3, [90.02] * 3
AUGMENTS = [dict(type='BatchRandomResizedCrop', size=8, scale=(0.2, 1.0)),
            dict(type='BatchColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
                 hue=0.4),
            dict(type='BatchRandomGrayscale', p=0.2),
            dict(type='BatchHorizontalFlip', p=0.5)]


def test_augmentation_graph_warmup_leaves_the_random_stream_alone():
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8, device='cuda')
    graphed_pre = SelfSupPreprocessor(MEAN, STD, batch_augments=AUGMENTS).cuda()
    eager_pre = SelfSupPreprocessor(MEAN, STD, batch_augments=AUGMENTS,
                                    cuda_graph=False).cuda()
    views = []
    for pre in (graphed_pre, eager_pre):
        torch.cuda.manual_seed(7)
        views.append([pre(dict(inputs=images), True)['inputs'] for _ in range(3)])
        views[-1].append(torch.cuda.get_rng_state())
    assert len(graphed_pre._graphs) == 1  # the first call warmed up, captured, replayed
    assert torch.equal(views[0].pop(), views[1].pop())  # the same numbers drawn
    for got, expected in zip(views[0], views[1]):
        for a, b in zip(got, expected):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def cuda_tiny(fused: bool, model_cls=Tiny):
    model, wrapper = tiny(fused, model_cls)
    return model.cuda(), wrapper  # the optimizer holds the same (moved) parameters


def test_graph_replays_what_eager_computes_and_follows_the_lr():
    eager_model, eager_wrapper = cuda_tiny(True)
    model, wrapper = cuda_tiny(True)
    step, lines = graphed(model, wrapper, warmup=2)
    for i in range(6):
        data = {k: v.cuda() for k, v in batch(seed=i).items()}
        expected = eager_model.train_step(dict(data), eager_wrapper)
        got = step(data, wrapper)
        torch.testing.assert_close(got['loss'], expected['loss'])
        for w in (wrapper, eager_wrapper):
            w.optimizer.param_groups[0]['lr'] *= 0.7  # a device tensor: no re-capture
    assert step.captures == 1 and step.replays == 4, lines
    for p, q in zip(model.parameters(), eager_model.parameters()):
        # the graph reads the lr as float32, eager as a double: equal to float32 rounding
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    assert model.seen.item() == eager_model.seen.item() == 6  # buffers advance per replay


class Syncs(Tiny):
    def forward(self, inputs, data_samples=None, mode='loss'):
        losses = super().forward(inputs, data_samples, mode)
        if losses['loss'].item() > 1e9:  # a host read: not capturable
            raise AssertionError
        return losses


def test_a_host_synchronisation_is_refused_at_capture():
    model, wrapper = cuda_tiny(True, Syncs)
    step = GraphedTrainStep(model, wrapper, warmup=1, log=lambda msg: None)
    data = {k: v.cuda() for k, v in batch().items()}
    step(data, wrapper)
    with pytest.raises(GraphRefusedError, match='(?s)capturing Syncs.train_step failed.*'
                                                'host synchronisation'):
        step(data, wrapper)


@pytest.mark.parametrize('through_hub', [False, True], ids=['buffer_only', 'hub_too'])
def test_super_and_replays_its_ue_weight_from_the_buffer(through_hub):
    """Captured for real: a replay reads the UE weight the head's buffer holds (written
    between steps), and a capture while the hub holds the epoch bakes no fill of it."""
    check_super_and_follows_its_ue_weight('cuda', through_hub, exact=False)


# ---- tools/train.py --cuda-graph, end to end ------------------------------------------------
TINY = ['train_dataloader.batch_size=16', 'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1', 'custom_hooks.knn.interval=1', 'custom_hooks.knn.k=10',
        'randomness.deterministic=True']
ISIF = 'configs/isif/r18_fmnist.py'
#: per config: options of its tiny run (ISIF: an lr milestone after epoch 1, a re-capture
#: with a baked lr; AND: a round per epoch, so epoch 2 discovers neighbourhoods; Super-AND:
#: its UE weight switches on in epoch 2)
METHODS = {
    ISIF: ['cuda_graph.warmup=1', 'param_scheduler.0.milestones=[1]'],
    'configs/npid/r18_fmnist.py': ['cuda_graph.warmup=1'],
    'configs/and/r18_fmnist.py': ['cuda_graph.warmup=1', 'param_scheduler.0.epochs_per_round=1',
                                  'param_scheduler.0.milestones=[]',
                                  'method_hooks.discovery.epochs_per_round=1'],
    'configs/cld/r18_fmnist.py': ['cuda_graph.warmup=1', 'model.group_head.num_groups=4'],
    # the momentum encoder's first update is a one-time branch: warm up past it
    'configs/cld/r18_fmnist_moco.py': ['cuda_graph.warmup=2', 'model.group_head.num_groups=4'],
    'configs/uic/r18_fmnist.py': ['cuda_graph.warmup=1', 'model.num_classes=8'],
    # the UE weight goes 0 -> 0.2 at epoch 2 (one re-capture)
    'configs/super_and/r18_fmnist.py': ['cuda_graph.warmup=1', 'model.head.ue_step=1'],
}


def train(work_dir: Path, data_root: Path, *extra: str, config: str = ISIF) -> str:
    roots = [f'{key}.dataset.data_root={data_root}' for key in (
        'train_dataloader', 'knn_train_dataloader', 'knn_val_dataloader')]
    flags = [e for e in extra if e.startswith('--')]
    options = [e for e in extra if not e.startswith('--')]
    cmd = [sys.executable, str(ROOT / 'tools/train.py'), config, '--work-dir', str(work_dir),
           *flags, '--cfg-options', *TINY, *METHODS[config], *roots, *options]
    env = dict(os.environ, PYTHONPATH=str(ROOT), CUBLAS_WORKSPACE_CONFIG=':4096:8')
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def checkpoint(path: Path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=True)


def losses(work_dir: Path) -> list:
    logs = sorted(work_dir.glob('*/vis_data/scalars.json'))
    return [r['loss'] for log in logs for r in map(json.loads, log.read_text().splitlines())
            if 'loss' in r]


def assert_same_run(a: Path, b: Path, exact: bool) -> None:
    ca, cb = checkpoint(a), checkpoint(b)
    tol = dict(rtol=0, atol=0) if exact else dict(rtol=1e-4, atol=1e-5)
    for key in ca['state_dict']:
        torch.testing.assert_close(ca['state_dict'][key], cb['state_dict'][key], **tol,
                                   msg=key)
    for i, state in ca['optimizer']['state'].items():
        torch.testing.assert_close(state['momentum_buffer'],
                                   cb['optimizer']['state'][i]['momentum_buffer'], **tol)


@pytest.mark.parametrize('fused', [False, True], ids=['sgd', 'fused_sgd'])
def test_graphed_run_equals_eager_run(tmp_path, tiny_fmnist, fused):
    """Bit for bit with a baked lr (deterministic algorithms); with fused SGD the graph
    reads the lr as float32, so within float32 rounding."""
    option = f'optim_wrapper.optimizer.fused={fused}'
    train(tmp_path / 'eager', tiny_fmnist, 'train_cfg.max_epochs=2', option)
    log = train(tmp_path / 'graph', tiny_fmnist, 'train_cfg.max_epochs=2', option,
                '--cuda-graph')
    assert re.search(r'cuda_graph: training step for batch 16x\S+ uint8 captured', log), \
        log[-3000:]
    assert ('re-capturing' in log) != fused  # the lr milestone: baked -> re-capture
    assert_same_run(tmp_path / 'eager/epoch_2.pth', tmp_path / 'graph/epoch_2.pth', not fused)
    eager_losses, graph_losses = losses(tmp_path / 'eager'), losses(tmp_path / 'graph')
    assert len(eager_losses) == len(graph_losses) == 8
    if not fused:
        assert eager_losses == graph_losses


def test_resumed_graphed_run_equals_the_uninterrupted_one(tmp_path, tiny_fmnist):
    train(tmp_path / 'full', tiny_fmnist, 'train_cfg.max_epochs=2', '--cuda-graph')
    train(tmp_path / 'cut', tiny_fmnist, 'train_cfg.max_epochs=1', '--cuda-graph')
    log = train(tmp_path / 'cut', tiny_fmnist, 'train_cfg.max_epochs=2', '--cuda-graph',
                '--resume')
    assert 'resumed' in log.lower()
    assert_same_run(tmp_path / 'full/epoch_2.pth', tmp_path / 'cut/epoch_2.pth', exact=True)


@pytest.mark.parametrize('config', [c for c in METHODS if c != ISIF])
def test_graph_ready_method_runs_equal_eager_runs(tmp_path, tiny_fmnist, config):
    """Each graph-ready method: two epochs with the whole step graphed equal the eager run
    bit for bit (plain SGD, deterministic algorithms): weights, momentum buffers, the memory
    bank and queues (``state_dict``), every logged loss."""
    option = 'optim_wrapper.optimizer.fused=False'
    train(tmp_path / 'eager', tiny_fmnist, 'train_cfg.max_epochs=2', option, config=config)
    log = train(tmp_path / 'graph', tiny_fmnist, 'train_cfg.max_epochs=2', option,
                '--cuda-graph', config=config)
    assert re.search(r'cuda_graph: training step for batch 16x\S+ uint8 captured', log), \
        log[-3000:]
    assert_same_run(tmp_path / 'eager/epoch_2.pth', tmp_path / 'graph/epoch_2.pth', True)
    eager_losses, graph_losses = losses(tmp_path / 'eager'), losses(tmp_path / 'graph')
    assert eager_losses and eager_losses == graph_losses
