import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from selfemb.models.losses import margin_nce_loss
from selfemb.models.utils.label_sampling import sample_positives
from selfemb.registry import MODELS

N, B, DIM = 12, 4, 16
CFG = dict(
    type='InterCLR',
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8),
    neck=dict(type='NonLinearNeck', in_channels=64, hid_channels=32, out_channels=DIM),
    memory=dict(type='ODCMemory', feat_dim=DIM, num_clusters=3),
    intra_head=dict(type='MarginNCEHead', margin=0.35, temperature=0.2),
    inter_head=dict(type='MarginNCEHead', margin=-0.5, temperature=0.2),
    num_negatives=5, intra_negatives=8,
    data_preprocessor=dict(mean=[0., 0., 0.], std=[1., 1., 1.], num_views=2))
IDX = [1, 3, 6, 8]


def build(**overrides):
    init_default_scope('selfemb')
    torch.manual_seed(0)
    model = MODELS.build(dict(CFG, **overrides))
    model.memory.setup(N, seed=0)
    feats = F.normalize(torch.randn(N, DIM), dim=1)
    model.memory.init_clusters(torch.arange(N) % 3, feats)
    return model


def batch(views=2):
    gen = torch.Generator().manual_seed(1)
    images = [torch.randn(B, 3, 8, 8, generator=gen) for _ in range(views)]
    return images, [DataSample(metainfo=dict(sample_idx=i)) for i in IDX]


def test_moco_intra_branch_uses_keys_and_queue_then_enqueues():
    model = build()
    images, samples = batch()
    queue = model.queue.keys.clone()
    losses = model.loss(images, samples)
    assert set(losses) == {'loss_intra', 'loss_inter', 'label_change'}
    sum(losses.values()).backward()
    assert model.backbone.conv1.weight.grad is not None
    # first update copies the online weights into the key encoder
    with torch.no_grad():
        q, k = model.embed(images[0]), model.key_encoder(images[1])
    expected = 0.75 * margin_nce_loss(q, k, queue, 0.35, 0.2)
    torch.testing.assert_close(losses['loss_intra'], expected, rtol=1e-4, atol=1e-5)
    assert int(model.queue.ptr) == B
    torch.testing.assert_close(model.queue.keys[:B], k, rtol=1e-4, atol=1e-5)
    assert torch.equal(model.queue.keys[B:], queue[B:])


@pytest.mark.parametrize('source', ['key', 'query'])
def test_bank_rows_become_the_keys_or_the_queries(source):
    # momentum 0.0 (weight of the old entry): the rows are replaced, as the release
    memory = dict(type='ODCMemory', feat_dim=DIM, momentum=0.0, num_clusters=3)
    model = build(memory=memory, **({} if source == 'key' else dict(bank_source=source)))
    assert model.bank_source == source  # 'key' is the default of the MoCo intra branch
    images, samples = batch()
    bank = model.memory.bank.clone()
    model.loss(images, samples)
    model.memory.flush()
    with torch.no_grad():
        q, k = model.embed(images[0]), model.key_encoder(images[1])
    idx = torch.tensor(IDX)
    torch.testing.assert_close(model.memory.bank[idx], k if source == 'key' else q,
                               rtol=1e-4, atol=1e-5)
    assert not torch.allclose(k, q, atol=1e-3)
    rest = torch.ones(N, dtype=torch.bool)
    rest[idx] = False
    assert torch.equal(model.memory.bank[rest], bank[rest])


def test_memory_intra_branch_and_inter_branch_against_the_bank():
    model = build(intra_source='memory', negative_strategy='hard',  # no centroid update
                  memory=dict(type='ODCMemory', feat_dim=DIM, num_clusters=3, interval=100))
    images, samples = batch(views=1)
    bank, labels = model.memory.bank.clone(), model.memory.labels.clone()
    idx = torch.tensor(IDX)
    torch.manual_seed(5)
    losses = model.loss(images, samples)
    torch.manual_seed(5)  # replay the step's draws: intra noise, then inter positives
    noise = torch.randint(0, N, (B, 8))
    positives = sample_positives(labels, idx)
    assert torch.equal(labels[positives], labels[idx]) and (positives != idx).all()
    with torch.no_grad():
        q = model.embed(images[0])
    torch.testing.assert_close(losses['loss_intra'],
                               0.75 * margin_nce_loss(q, bank[idx], bank[noise], 0.35, 0.2),
                               rtol=1e-4, atol=1e-5)
    sim = q @ bank.t()  # hard negatives: the 5 most similar rows with another label
    sim[labels.unsqueeze(0) == labels[idx].unsqueeze(1)] = float('-inf')
    negatives = bank[sim.topk(5, dim=1).indices]
    torch.testing.assert_close(losses['loss_inter'],
                               0.25 * margin_nce_loss(q, bank[positives], negatives, -0.5, 0.2),
                               rtol=1e-4, atol=1e-5)
    assert torch.equal(model.memory.bank, bank)  # queued until the next step
    model.memory.flush()
    assert not torch.equal(model.memory.bank[idx], bank[idx])
    assert int(model.memory.num_updates) == 1
    changed = model.memory.labels[idx] != labels[idx]
    assert float(model.memory.label_change) == pytest.approx(changed.float().mean().item())


def test_errors_name_the_problem():
    model = build()
    model.memory.setup(N, seed=0)  # sized, without the initial clustering
    with pytest.raises(RuntimeError, match='ODCInitHook'):
        model.loss(*batch())
    with pytest.raises(ValueError, match='two views'):
        build().loss(*batch(views=1))
    with pytest.raises(ValueError, match='num_negatives=12 must be smaller than the 12'):
        build(num_negatives=12).check_num_samples(N)
    init_default_scope('selfemb')
    with pytest.raises(TypeError, match='ODCMemory'):
        MODELS.build(dict(CFG, memory=dict(type='SimpleMemory', feat_dim=DIM)))
    with pytest.raises(ValueError, match="bank_source must be 'key'.*'memory'"):
        MODELS.build(dict(CFG, intra_source='memory', bank_source='key'))
    with pytest.raises(ValueError, match="got 'keys'"):
        MODELS.build(dict(CFG, bank_source='keys'))
    with pytest.raises(ValueError, match='negative_strategy'):
        MODELS.build(dict(CFG, negative_strategy='easy'))
