import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from selfemb.models.heads import ANDHead, InstanceBatch
from selfemb.models.losses import neighbourhood_loss
from selfemb.models.memories import NeighbourhoodMemory
from selfemb.registry import MODELS

N, B = 10, 4
CFG = dict(
    type='AND',
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8),
    neck=dict(type='LinearNeck', in_channels=64, out_channels=16),
    head=dict(type='ANDHead', temperature=0.1),
    memory=dict(type='NeighbourhoodMemory', feat_dim=16, momentum=0.5, num_neighbours=1),
    data_preprocessor=dict(mean=[0., 0., 0.], std=[1., 1., 1.], num_views=1))


def test_head_is_the_neighbourhood_loss_of_the_bank_logits():
    memory = NeighbourhoodMemory(feat_dim=8)
    memory.setup(N, seed=0)
    memory.set_neighbourhoods(1, torch.arange(N) < 3, torch.roll(torch.arange(N), 1)[:, None])
    v = F.normalize(torch.randn(B, 8), dim=1)
    idx = torch.tensor([0, 2, 5, 9])
    head = ANDHead(temperature=0.2)
    logits = v @ memory.bank.t() / 0.2
    torch.testing.assert_close(head.logits(v, memory.bank), logits)
    expected = neighbourhood_loss(logits, idx, memory.neighbours[idx], memory.anchor[idx])
    batch = InstanceBatch(views=[v], indices=idx, bank=memory.bank,
                          neighbours=memory.neighbours[idx], anchor=memory.anchor[idx])
    torch.testing.assert_close(head.loss(batch)['loss'], expected)
    with pytest.raises(ValueError, match='temperature'):
        ANDHead(temperature=0.0)


def test_head_logits_stay_fp32_under_autocast():
    torch.manual_seed(0)
    v = F.normalize(torch.randn(B, 8), dim=1)
    bank = F.normalize(torch.randn(N, 8), dim=1)
    head = ANDHead(temperature=0.1)
    reference = v @ bank.t() / 0.1
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert (v @ bank.t()).dtype == torch.bfloat16  # what an unguarded matmul gives
        logits = head.logits(v, bank)
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, reference, rtol=1e-6, atol=1e-6)


def test_and_step_flushes_uses_anchors_and_queues_the_update():
    init_default_scope('selfemb')
    torch.manual_seed(0)
    model = MODELS.build(CFG)
    model.memory.setup(N, seed=0)
    model.memory.set_neighbourhoods(1, torch.arange(N) < 5, torch.roll(torch.arange(N), 1)[:, None])
    images = torch.randn(B, 3, 8, 8)
    samples = [DataSample(metainfo=dict(sample_idx=i)) for i in (1, 3, 6, 8)]
    idx = torch.tensor([1, 3, 6, 8])
    bank = model.memory.bank.clone()
    losses = model.loss([images], samples)
    z = model.embed(images)
    expected = neighbourhood_loss(model.head.logits(z, model.memory.bank), idx,
                                  model.memory.neighbours[idx], model.memory.anchor[idx])
    torch.testing.assert_close(losses['loss'], expected)
    assert torch.equal(model.memory.bank, bank)  # queued, not yet written
    model.memory.flush()
    assert not torch.equal(model.memory.bank[idx], bank[idx])
    assert torch.equal(model.memory.bank[[0, 2]], bank[[0, 2]])


def test_and_needs_a_neighbourhood_memory():
    init_default_scope('selfemb')
    with pytest.raises(TypeError, match='NeighbourhoodMemory'):
        MODELS.build(dict(CFG, memory=dict(type='SimpleMemory', feat_dim=16)))
