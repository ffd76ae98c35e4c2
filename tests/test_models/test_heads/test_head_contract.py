"""The instance family's contract: a head written once runs in every method of the family
by changing one config line, and heads swap between methods."""
import copy
import math
from typing import Dict

import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from selfemb.engine.model_loading import check_checkpoint
from selfemb.models.heads import InstanceBatch, InstanceHead
from selfemb.models.losses import instance_spread_loss, memory_softmax_loss
from selfemb.registry import MODELS

N, B, DIM = 10, 4, 16
TRUNK = dict(type='mmpretrain.ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8)
PRE = dict(mean=[0., 0., 0.], std=[1., 1., 1.])
NECK = dict(type='LinearNeck', in_channels=64, out_channels=DIM)
BANK = dict(type='SimpleMemory', feat_dim=DIM)
NEIGHBOURHOODS = dict(type='NeighbourhoodMemory', feat_dim=DIM)
# one tiny config per method of the family, each with the head it ships with
METHODS = dict(
    ISIF=dict(type='ISIF', backbone=TRUNK, neck=NECK,
              head=dict(type='InstanceSpreadHead', temperature=0.1)),
    NPID=dict(type='NPID', backbone=TRUNK, neck=NECK, head=dict(type='NPIDHead'), memory=BANK),
    AND=dict(type='AND', backbone=TRUNK, neck=NECK, head=dict(type='ANDHead'),
             memory=NEIGHBOURHOODS),
    SuperAND=dict(type='SuperAND', backbone=dict(type='SobelResNet', trunk=TRUNK),
                  neck=dict(NECK, in_channels=128), head=dict(type='SuperANDHead'),
                  memory=NEIGHBOURHOODS),
    CLD=dict(type='CLD', backbone=TRUNK,
             neck=dict(type='TwoBranchNeck', in_channels=64, out_channels=DIM, group_channels=8),
             instance_head=dict(type='NPIDHead'), memory=BANK,
             group_head=dict(type='CLDHead', num_groups=2, num_iters=2)),
)
VIEWS = dict(ISIF=2, NPID=1, AND=1, SuperAND=2, CLD=2)


class AlignUniformHead(InstanceHead):
    """A head a user writes once: alignment of the views plus uniformity of each view
    (Wang & Isola, ICML 2020), reading ``batch.views`` only."""

    def __init__(self, t: float = 2.0, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.t = t

    def loss(self, batch: InstanceBatch) -> Dict[str, torch.Tensor]:
        uniform = sum(torch.pdist(v).pow(2).mul(-self.t).exp().mean().log()
                      for v in batch.views) / len(batch.views)
        first = batch.views[0]
        align = sum((first - v).norm(dim=1).pow(2).mean() for v in batch.views[1:])
        return dict(loss_align=first.new_zeros(()) + align, loss_uniform=uniform)


def naive_align_uniform(views, t=2.0) -> float:
    uniform = 0.0
    for v in views:
        pairs = [math.exp(-t * float((v[i] - v[j]).norm()) ** 2)
                 for i in range(len(v)) for j in range(i + 1, len(v))]
        uniform += math.log(sum(pairs) / len(pairs)) / len(views)
    align = sum(float((views[0][i] - v[i]).norm()) ** 2 / len(v)
                for v in views[1:] for i in range(len(v)))
    return align + uniform


@pytest.fixture(autouse=True)
def registered_head():
    init_default_scope('selfemb')
    MODELS.register_module(module=AlignUniformHead, force=True)
    yield
    MODELS.module_dict.pop('AlignUniformHead', None)


def build(method: str, **changes):
    cfg = copy.deepcopy(METHODS[method])
    cfg.update(changes, data_preprocessor=PRE)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    for memory in model.memories():
        memory.setup(N, seed=0)
    return model


def batch(views: int):
    gen = torch.Generator().manual_seed(1)
    images = [torch.randn(B, 3, 8, 8, generator=gen) for _ in range(views)]
    return images, [DataSample(metainfo=dict(sample_idx=i)) for i in (1, 3, 6, 8)]


def embedded_views(model, images):
    """What the algorithm hands its head (train-mode BN: the same batches as its step)."""
    with torch.no_grad():
        if type(model).__name__ == 'CLD':
            return [model.embed(x) for x in images]
        return list(model.embed(torch.cat(images)).split(B))


@pytest.mark.parametrize('method', list(METHODS))
def test_a_new_head_runs_in_every_method_of_the_family_by_one_config_line(method):
    key = 'instance_head' if method == 'CLD' else 'head'
    model = build(method, **{key: dict(type='AlignUniformHead')})
    images, samples = batch(VIEWS[method])
    reference = copy.deepcopy(model)
    losses = model.loss(images, samples)
    terms = {k: v for k, v in losses.items() if k != 'loss_cld'}
    assert len(terms) == 2
    want = naive_align_uniform(embedded_views(reference, images))
    assert float(sum(terms.values())) == pytest.approx(want, rel=1e-4, abs=1e-5)
    sum(losses.values()).backward()
    assert next(model.backbone.parameters()).grad is not None


def test_npid_head_swaps_into_and():
    model = build('AND', head=dict(type='NPIDHead', temperature=0.1))
    images, samples = batch(1)
    bank = model.memory.current_bank().clone()
    reference = copy.deepcopy(model)
    loss = model.loss(images, samples)['loss']
    z = embedded_views(reference, images)[0]
    want = memory_softmax_loss(z, bank, torch.tensor([1, 3, 6, 8]), 0.1)
    torch.testing.assert_close(loss.detach(), want)


def test_isif_head_swaps_into_super_and():
    model = build('SuperAND', head=dict(type='InstanceSpreadHead', temperature=0.1))
    images, samples = batch(2)
    reference = copy.deepcopy(model)
    losses = model.loss(images, samples)
    want = instance_spread_loss(torch.cat(embedded_views(reference, images)), 0.1)
    torch.testing.assert_close(losses['loss'].detach(), want)
    model.memory.flush()  # Super-AND still keeps its bank: view 1 was queued
    assert not torch.equal(model.memory.bank, reference.memory.bank)


def test_a_head_names_what_the_method_lacks():
    with pytest.raises(ValueError, match=r"NPIDHead reads `bank`.*SimpleMemory"):
        build('ISIF', head=dict(type='NPIDHead')).loss(*batch(2))
    with pytest.raises(ValueError, match=r'InstanceSpreadHead reads 2 views but NPID embeds 1'):
        build('NPID', head=dict(type='InstanceSpreadHead'))
    with pytest.raises(TypeError, match='instance-family head'):
        build('ISIF', head=dict(type='MarginNCEHead'))


@pytest.mark.parametrize('method, old', [
    ('CLD', {'head.log_z': 'instance_head.log_z', 'head.log_z_ready': 'instance_head.log_z_ready'}),
    ('CLDm', {'queue': 'queue.keys', 'queue_ptr': 'queue.ptr'}),
])
def test_checkpoints_of_the_earlier_key_names_still_load(method, old):
    if method == 'CLDm':
        model = MODELS.build(dict(
            type='CLDm', backbone=TRUNK, neck=METHODS['CLD']['neck'], queue_len=8, feat_dim=DIM,
            instance_head=dict(type='MarginNCEHead'), group_head=METHODS['CLD']['group_head'],
            data_preprocessor=PRE))
    else:
        model = build('CLD')
    saved = model.state_dict()
    renamed = {k: v for k, v in saved.items() if k not in old.values()}
    renamed.update({o: saved[n].clone().fill_(1) for o, n in old.items()})
    check_checkpoint(model, dict(state_dict=renamed), 'old.pth')  # no mismatch reported
    model.load_state_dict(renamed)
    for new_key in old.values():
        assert bool((model.state_dict()[new_key] == 1).all()), new_key


def test_isif_looks_up_indices_only_for_a_head_that_reads_them(monkeypatch):
    import selfemb.models.algorithms.instance as instance
    calls = []
    real = instance.sample_indices
    monkeypatch.setattr(instance, 'sample_indices',
                        lambda *args: calls.append(1) or real(*args))
    build('ISIF').loss(*batch(2))  # InstanceSpreadHead: in-batch, no lookup per step
    assert not calls
    build('ISIF', head=dict(type='AlignUniformHead')).loss(*batch(2))
    assert calls == [1]
