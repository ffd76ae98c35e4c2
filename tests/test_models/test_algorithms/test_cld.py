"""CLD / CLDm on tiny inputs: losses, the bank / queue / momentum-encoder updates."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from selfemb.registry import MODELS

BACKBONE = dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, ),
                stem_channels=8, base_channels=8)  # tiny
NECK = dict(type='TwoBranchNeck', in_channels=64, out_channels=16, group_channels=8)
CLD_HEAD = dict(type='CLDHead', num_groups=3, temperature=0.2, num_iters=2)
PRE = dict(mean=[0., 0., 0.], std=[1., 1., 1.])


@pytest.fixture(autouse=True)
def selfemb_scope():
    init_default_scope('selfemb')


def _batch(b=6):
    gen = torch.Generator().manual_seed(0)
    views = [torch.randn(b, 3, 8, 8, generator=gen) for _ in range(2)]
    return views, [DataSample(metainfo=dict(sample_idx=i)) for i in range(b)]


def test_cld_losses_and_bank_update_with_view_mean():
    model = MODELS.build(dict(type='CLD', backbone=BACKBONE, neck=NECK,
                              head=dict(type='NPIDHead', temperature=0.1), cld_head=CLD_HEAD,
                              memory=dict(type='SimpleMemory', feat_dim=16), cld_weight=0.5,
                              data_preprocessor=PRE))
    model.memory.setup(10)
    views, samples = _batch()
    losses = model.loss(views, samples)
    assert set(losses) == {'loss_instance', 'loss_cld'}
    sum(losses.values()).backward()
    assert model.neck.group_fc.weight.grad.abs().sum() > 0
    before = model.memory.bank.clone()
    model.memory.flush()
    assert not torch.equal(before[:6], model.memory.bank[:6])
    assert torch.equal(before[6:], model.memory.bank[6:])
    assert model.embed(views[0]).shape == (6, 16)
    with pytest.raises(ValueError, match='two views'):
        model.loss(views[:1], samples)


def test_cld_k_larger_than_batch_is_a_clear_error():
    model = MODELS.build(dict(type='CLD', backbone=BACKBONE, neck=NECK,
                              head=dict(type='NPIDHead'), cld_head=dict(CLD_HEAD, num_groups=9),
                              memory=dict(type='SimpleMemory', feat_dim=16),
                              data_preprocessor=PRE))
    model.memory.setup(10)
    with pytest.raises(ValueError, match='k=9 clusters from 6 samples'):
        model.loss(*_batch())


def test_cldm_queue_and_momentum_encoder():
    model = MODELS.build(dict(type='CLDm', backbone=BACKBONE, neck=NECK, cld_head=CLD_HEAD,
                              queue_len=8, feat_dim=16, momentum=0.9,
                              data_preprocessor=PRE))
    views, samples = _batch()
    queue0 = model.queue.clone()
    losses = model.loss(views, samples)
    sum(losses.values()).backward()  # the in-place enqueue did not break autograd
    assert int(model.queue_ptr) == 6 and torch.equal(model.queue[6:], queue0[6:])
    keys = model.momentum_encoder(views[1])[0]
    torch.testing.assert_close(model.queue[:6], keys)  # step 1: key encoder = online copy
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(1.0)
    model.loss(views, samples)
    assert int(model.queue_ptr) == 4  # wrapped around
    online = next(model.backbone.parameters())
    key = next(model.momentum_encoder.module[0].parameters())
    torch.testing.assert_close(key, online - 0.9)  # 0.9 * old + 0.1 * (old + 1)
    assert 'queue' in model.state_dict() and 'momentum_encoder.steps' in model.state_dict()
    with pytest.raises(ValueError, match='queue_len=4 is smaller than the global batch 6'):
        MODELS.build(dict(type='CLDm', backbone=BACKBONE, neck=NECK, cld_head=CLD_HEAD,
                          queue_len=4, feat_dim=16,
                          data_preprocessor=PRE)).loss(views, samples)
