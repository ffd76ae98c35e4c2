from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

from selfemb.models.heads import InstanceBatch, SuperANDHead
from selfemb.models.losses import augmentation_loss, neighbourhood_loss, uniform_entropy_loss
from selfemb.registry import MODELS

N, B = 10, 4
CFG = dict(
    type='SuperAND',
    backbone=dict(type='SobelResNet', trunk=dict(type='mmpretrain.ResNet_CIFAR', depth=18,
                                                  stem_channels=8, base_channels=8)),
    neck=dict(type='LinearNeck', in_channels=128, out_channels=16),  # 2 x 64 channels
    head=dict(type='SuperANDHead', temperature=0.1, ue_step=2),
    memory=dict(type='NeighbourhoodMemory', feat_dim=16, momentum=0.5, num_neighbours=1),
    data_preprocessor=dict(mean=[0., 0., 0.], std=[1., 1., 1.]))


@pytest.fixture(scope='module')
def model():
    init_default_scope('selfemb')
    torch.manual_seed(0)
    model = MODELS.build(CFG)
    model.memory.setup(N, seed=0)
    anchor = torch.zeros(N, dtype=torch.bool)
    anchor[[1, 6]] = True  # samples 1 and 6 are anchors: 1 with neighbour 5, 6 with 0
    neighbours = torch.full((N, 1), -1)
    neighbours[1, 0], neighbours[6, 0] = 5, 0
    model.memory.set_neighbourhoods(1, anchor, neighbours)
    return model


def batch(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    views = [torch.randn(B, 3, 8, 8, generator=gen) for _ in range(2)]
    samples = [SimpleNamespace(sample_idx=i) for i in (1, 3, 6, 9)]
    return views, samples


def set_epoch_in_round(epoch):
    hub = MessageHub.get_instance('test_super_and')
    hub.update_info('and_epoch_in_round', epoch)
    assert MessageHub.get_current_instance() is hub


def test_loss_terms_match_the_pure_functions_and_backpropagate(model):
    set_epoch_in_round(5)  # ue_step=2: w = 0.2 * (5 // 2) = 0.4
    views, samples = batch()
    model.memory.flush()
    bank = model.memory.bank.clone()
    losses = model.loss(views, samples)
    assert set(losses) == {'loss_and', 'loss_aug', 'loss_ue', 'ue_weight'}
    assert all(torch.isfinite(v).all() for v in losses.values())
    assert float(losses['ue_weight']) == pytest.approx(0.4)

    z = model.embed(torch.cat(views)).detach().double()  # train-mode BN: same outputs
    logits = z @ bank.double().t() / 0.1
    idx = torch.tensor([1, 3, 6, 9]).repeat(2)
    nbrs, anchor = model.memory.neighbourhood(idx)
    assert anchor.tolist() == [True, False, True, False] * 2
    expected = dict(loss_and=neighbourhood_loss(logits, idx, nbrs, anchor),
                    loss_aug=augmentation_loss(logits[:B], logits[B:], 0.1),
                    loss_ue=0.4 * uniform_entropy_loss(logits, idx, -10.0))
    for key, value in expected.items():
        assert float(losses[key]) == pytest.approx(float(value), rel=1e-4), key

    total, _ = model.parse_losses(losses)
    total.backward()
    for part in (model.backbone.trunk.conv1, model.backbone.sobel_trunk.conv1, model.neck.fc):
        assert part.weight.grad is not None and part.weight.grad.abs().sum() > 0
    model.zero_grad()

    # the queued bank update blends in view 1's embedding
    model.memory.flush()
    rows = torch.tensor([1, 3, 6, 9])
    blended = F.normalize(0.5 * bank[rows] + 0.5 * z[:B].float(), dim=1)
    assert torch.allclose(model.memory.bank[rows], blended, atol=1e-5)


def test_ue_schedule_and_ablations(model):
    set_epoch_in_round(1)  # w = 0.2 * (1 // 2) = 0: UE not computed
    views, samples = batch(1)
    losses = model.loss(views, samples)
    assert float(losses['loss_ue']) == 0.0 and float(losses['ue_weight']) == 0.0
    assert not losses['loss_ue'].requires_grad  # not computed while w = 0
    model.head.aug_weight = 0.0
    try:
        assert 'loss_aug' not in model.loss(views, samples)
    finally:
        model.head.aug_weight = 1.0


def test_errors():
    init_default_scope('selfemb')
    with pytest.raises(ValueError, match='ue_step=0'):
        MODELS.build(dict(CFG, head=dict(CFG['head'], ue_step=0)))
    model = MODELS.build(CFG)
    model.memory.setup(N)
    views, samples = batch()
    with pytest.raises(ValueError, match='two views per image, got 1'):
        model.loss(views[:1], samples)
    with pytest.raises(ValueError, match='views of 4 and 4 images for 3 data samples'):
        model.loss(views, samples[:3])


def test_head_weights_the_ue_term_by_its_buffer_bit_for_bit():
    """w(t) is the head's device state: the loss equals the Python-number weighting
    ``w * uniform_entropy_loss`` bit for bit, a new buffer value (as a hook writes
    between steps) is used as it is, and an epoch in the batch (the hub's) is followed."""
    head = SuperANDHead(ue_step=2)
    gen = torch.Generator().manual_seed(3)
    views = [F.normalize(torch.randn(B, 16, generator=gen), dim=1) for _ in range(2)]
    bank = F.normalize(torch.randn(N, 16, generator=gen), dim=1)
    indices = torch.tensor([1, 3, 6, 9])
    batch = InstanceBatch(views=views, indices=indices, bank=bank,
                          neighbours=torch.tensor([[5], [-1], [0], [-1]]),
                          anchor=torch.tensor([True, False, True, False]))
    entropy = uniform_entropy_loss(head.logits(torch.cat(views), bank), indices.repeat(2),
                                   -10.0)
    head.set_round_epoch(5)  # w = 0.2 * (5 // 2)
    losses = head.loss(batch)
    assert torch.equal(losses['loss_ue'], 0.4 * entropy)
    assert torch.equal(losses['ue_weight'], torch.tensor(0.4))
    head.ue_weight.fill_(0.8)  # the buffer alone sets the weight
    assert torch.equal(head.loss(batch)['loss_ue'], 0.8 * entropy)
    batch.round_epoch = 7  # an eager step takes the hub's epoch into the buffer
    assert torch.equal(head.loss(batch)['loss_ue'], 0.2 * 3 * entropy)
    assert torch.equal(head.ue_weight, torch.tensor(0.2 * 3))
    batch.round_epoch = 1
    losses = head.loss(batch)
    assert not head.ue_active and not losses['loss_ue'].requires_grad
    assert float(losses['loss_ue']) == 0.0 and float(head.ue_weight) == 0.0
