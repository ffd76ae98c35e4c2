"""CLD / CLDm on tiny inputs: losses, the bank / queue / momentum-encoder updates,
three views, per-view BatchNorm batches."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from selfemb.registry import MODELS

BACKBONE = dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, ),
                stem_channels=8, base_channels=8)  # tiny
NECK = dict(type='TwoBranchNeck', in_channels=64, out_channels=16, group_channels=8)
GROUP_HEAD = dict(type='CLDHead', num_groups=3, temperature=0.2, num_iters=2)
INFONCE = dict(type='MarginNCEHead', margin=0.0, temperature=0.2)
PRE = dict(mean=[0., 0., 0.], std=[1., 1., 1.])


@pytest.fixture(autouse=True)
def selfemb_scope():
    init_default_scope('selfemb')


def _batch(b=6, num_views=2):
    gen = torch.Generator().manual_seed(0)
    views = [torch.randn(b, 3, 8, 8, generator=gen) for _ in range(num_views)]
    return views, [DataSample(metainfo=dict(sample_idx=i)) for i in range(b)]


def test_cld_losses_and_bank_update_with_view_mean():
    model = MODELS.build(dict(type='CLD', backbone=BACKBONE, neck=NECK,
                              instance_head=dict(type='NPIDHead', temperature=0.1),
                              group_head=GROUP_HEAD,
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
    with pytest.raises(ValueError, match='needs 2 views'):
        model.loss(views[:1], samples)


def test_cld_k_larger_than_batch_is_a_clear_error():
    model = MODELS.build(dict(type='CLD', backbone=BACKBONE, neck=NECK,
                              instance_head=dict(type='NPIDHead'),
                              group_head=dict(GROUP_HEAD, num_groups=9),
                              memory=dict(type='SimpleMemory', feat_dim=16),
                              data_preprocessor=PRE))
    model.memory.setup(10)
    with pytest.raises(ValueError, match='k=9 clusters from 6 samples'):
        model.loss(*_batch())


def test_cldm_queue_and_momentum_encoder():
    model = MODELS.build(dict(type='CLDm', backbone=BACKBONE, neck=NECK, group_head=GROUP_HEAD,
                              instance_head=INFONCE, queue_len=8, feat_dim=16, momentum=0.9,
                              data_preprocessor=PRE))
    views, samples = _batch()
    queue0 = model.queue.keys.clone()
    losses = model.loss(views, samples)
    sum(losses.values()).backward()  # the in-place enqueue did not break autograd
    assert int(model.queue.ptr) == 6 and torch.equal(model.queue.keys[6:], queue0[6:])
    keys = model.momentum_encoder(views[1])[0]
    torch.testing.assert_close(model.queue.keys[:6], keys)  # step 1: key encoder = online copy
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(1.0)
    model.loss(views, samples)
    assert int(model.queue.ptr) == 4  # wrapped around
    online = next(model.backbone.parameters())
    key = next(model.momentum_encoder.module[0].parameters())
    torch.testing.assert_close(key, online - 0.9)  # 0.9 * old + 0.1 * (old + 1)
    assert 'queue.keys' in model.state_dict() and 'momentum_encoder.steps' in model.state_dict()
    with pytest.raises(ValueError, match='queue_len=4 is smaller than the global batch 6'):
        MODELS.build(dict(type='CLDm', backbone=BACKBONE, neck=NECK, group_head=GROUP_HEAD,
                          instance_head=INFONCE, queue_len=4, feat_dim=16,
                          data_preprocessor=PRE)).loss(views, samples)


def _naive_infonce(q, k, queue, t):
    total = 0.0
    for i in range(len(q)):
        pos = math.exp(float(q[i] @ k[i]) / t)
        neg = sum(math.exp(float(q[i] @ queue[j]) / t) for j in range(len(queue)))
        total -= math.log(pos / (pos + neg))
    return total / len(q)


def test_cldm_three_views_match_naive_reference_and_enqueue_the_key_view():
    model = MODELS.build(dict(type='CLDm', backbone=BACKBONE, neck=NECK, group_head=GROUP_HEAD,
                              instance_head=INFONCE, queue_len=16, feat_dim=16, momentum=0.9,
                              cld_weight=0.5, num_views=3, data_preprocessor=PRE))
    views, samples = _batch(num_views=3)
    ref = copy.deepcopy(model)
    queue0 = model.queue.keys.clone()
    losses = model.loss(views, samples)
    with torch.no_grad():  # step 1: the key encoder is a copy of the online encoder
        (q1, g1), (q2, g2), (k3, _) = [ref.neck(ref.extract_feat(v)) for v in views]
        ref_instance = 0.5 * (_naive_infonce(q1, k3, queue0, 0.2) +
                              _naive_infonce(q2, k3, queue0, 0.2))
        ref_cld = 0.5 * ref.group_head.loss(g1, g2)
    assert losses['loss_instance'].item() == pytest.approx(ref_instance, rel=1e-5)
    assert losses['loss_cld'].item() == pytest.approx(ref_cld.item(), rel=1e-5)
    torch.testing.assert_close(model.queue.keys[:6], k3)  # the third view's keys, once
    assert int(model.queue.ptr) == 6 and torch.equal(model.queue.keys[6:], queue0[6:])
    sum(losses.values()).backward()
    with pytest.raises(ValueError, match='needs 3 views'):
        model.loss(views[:2], samples)
    with pytest.raises(ValueError, match='num_views must be 2 or 3, got 4'):
        MODELS.build(dict(type='CLDm', backbone=BACKBONE, neck=NECK, group_head=GROUP_HEAD,
                          instance_head=INFONCE, num_views=4,
                          data_preprocessor=PRE))


def _bn_stats(model):
    return [t.clone() for name, t in model.backbone.named_buffers() if 'running' in name]


@pytest.mark.parametrize('per_view', [True, False])
@pytest.mark.parametrize('algorithm', ['CLD', 'CLDm'])
def test_per_view_forward_gives_per_view_batchnorm_statistics(algorithm, per_view):
    extra = (dict(instance_head=dict(type='NPIDHead'),
                  memory=dict(type='SimpleMemory', feat_dim=16))
             if algorithm == 'CLD' else dict(queue_len=16, feat_dim=16, instance_head=INFONCE))
    model = MODELS.build(dict(type=algorithm, backbone=BACKBONE, neck=NECK,
                              group_head=GROUP_HEAD, per_view_forward=per_view,
                              data_preprocessor=PRE, **extra))
    if algorithm == 'CLD':
        model.memory.setup(10)
    views, samples = _batch()
    ref, other = copy.deepcopy(model), copy.deepcopy(model)
    model.loss(views, samples)
    with torch.no_grad():  # the reference: the backbone called per view, or once on both
        for batch in (views if per_view else [torch.cat(views)]):
            ref.backbone(batch)
    for got, want in zip(_bn_stats(model), _bn_stats(ref)):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    with torch.no_grad():  # and not the other way
        for batch in ([torch.cat(views)] if per_view else views):
            other.backbone(batch)
    assert not all(torch.allclose(a, b) for a, b in zip(_bn_stats(model), _bn_stats(other)))


def _cldm_two_ranks() -> dict:
    init_default_scope('selfemb')
    import torch.distributed as dist
    rank = dist.get_rank()
    torch.manual_seed(0)  # same initial weights on both ranks
    model = MODELS.build(dict(type='CLDm', backbone=BACKBONE, neck=NECK, group_head=GROUP_HEAD,
                              instance_head=INFONCE, queue_len=16, feat_dim=16,
                              data_preprocessor=PRE))
    views, samples = _batch()
    views = [v + rank for v in views]  # different data per rank
    torch.manual_seed(100 + rank)  # different RNG streams: the shuffle must still agree
    losses = model.loss(views, samples)
    return dict(queue=model.queue.keys.clone(), ptr=int(model.queue.ptr),
                loss=float(sum(losses.values())))


@pytest.mark.dist
def test_cldm_two_ranks_share_one_queue_with_shuffled_keys():
    from tests._dist_utils import run_in_processes
    ranks = run_in_processes(_cldm_two_ranks, 2)
    assert ranks[0]['ptr'] == ranks[1]['ptr'] == 12  # 2 ranks x 6 keys enqueued
    assert torch.equal(ranks[0]['queue'], ranks[1]['queue'])
    assert all(math.isfinite(r['loss']) for r in ranks)
    # the keys differ from an unshuffled encoding of each rank's own batch (train-mode BN)
    torch.manual_seed(0)
    model = MODELS.build(dict(type='CLDm', backbone=BACKBONE, neck=NECK, group_head=GROUP_HEAD,
                              instance_head=INFONCE, queue_len=16, feat_dim=16,
                              data_preprocessor=PRE))
    views, _ = _batch()
    model.momentum_encoder.update_parameters(torch.nn.Sequential(model.backbone, model.neck))
    with torch.no_grad():
        plain = torch.cat([model.momentum_encoder(views[1] + r)[0] for r in range(2)])
    assert not torch.allclose(plain, ranks[0]['queue'][:12])


def _cld(**kwargs):
    model = MODELS.build(dict(type='CLD', backbone=BACKBONE, neck=NECK,
                              instance_head=dict(type='NPIDHead', temperature=0.1),
                              group_head=GROUP_HEAD,
                              memory=dict(type='SimpleMemory', feat_dim=16, momentum=0.5),
                              data_preprocessor=PRE, **kwargs))
    model.memory.setup(10)
    return model


def _capture_instance_features(model):
    """The neck's f_I of each forward, kept with their gradient."""
    seen = []

    def hook(_module, _inputs, outputs):
        outputs[0].retain_grad()
        seen.append(outputs[0])
    model.neck.register_forward_hook(hook)
    return seen


def test_release_bank_update_order_values_and_gradient():
    """bank_update='release': view 2's row written before view 1's term, whose gradient
    uses the rewritten bank and whose softmax / value use the old one; then view 1's."""
    model = _cld(bank_update='release')
    views, samples = _batch()
    idx = torch.arange(6)
    old = model.memory.bank.clone()
    seen = _capture_instance_features(model)
    losses = model.loss(views, samples)
    sum(losses.values()).backward()
    v1, v2 = seen[0].detach(), seen[1].detach()

    def blend(m, v):  # momentum 0.5 on the old row
        return F.normalize(0.5 * m + 0.5 * v, dim=1)
    mid = old.clone()
    mid[idx] = blend(old[idx], v2)
    t = 0.1

    def ce(v, bank):
        return F.cross_entropy(v @ bank.t() / t, idx)
    assert losses['loss_instance'].item() == pytest.approx(
        (0.5 * (ce(v1, old) + ce(v2, old))).item(), rel=1e-6)
    probs = torch.softmax(v1 @ old.t() / t, 1) - F.one_hot(idx, 10).float()
    torch.testing.assert_close(seen[0].grad, 0.5 * probs @ mid / (t * 6))  # new bank
    probs = torch.softmax(v2 @ old.t() / t, 1) - F.one_hot(idx, 10).float()
    torch.testing.assert_close(seen[1].grad, 0.5 * probs @ old / (t * 6))  # old bank
    assert not torch.allclose(mid, old)
    want = mid.clone()
    want[idx] = blend(mid[idx], v1)
    torch.testing.assert_close(model.memory.current_bank(), want)
    assert torch.equal(model.memory.bank[6:], old[6:])


def test_default_bank_update_is_the_view_mean():
    model = _cld()
    views, samples = _batch()
    old = model.memory.bank.clone()
    seen = _capture_instance_features(model)
    losses = model.loss(views, samples)
    sum(losses.values()).backward()
    v1, v2 = seen[0].detach(), seen[1].detach()
    mean = F.normalize(v1 + v2, dim=1)
    want = F.normalize(0.5 * old[:6] + 0.5 * mean, dim=1)
    torch.testing.assert_close(model.memory.current_bank()[:6], want)
    idx = torch.arange(6)
    probs = torch.softmax(v1 @ old.t() / 0.1, 1) - F.one_hot(idx, 10).float()
    torch.testing.assert_close(seen[0].grad, 0.5 * probs @ old / (0.1 * 6))
    with pytest.raises(ValueError, match="bank_update must be 'mean' or 'release'"):
        _cld(bank_update='twice')
    with pytest.raises(TypeError, match="needs NPIDHead"):
        MODELS.build(dict(type='CLD', backbone=BACKBONE, neck=NECK,
                          instance_head=dict(type='NPIDHead', loss_type='nce'),
                          group_head=GROUP_HEAD, bank_update='release',
                          memory=dict(type='SimpleMemory', feat_dim=16),
                          data_preprocessor=PRE))
