"""UIC: loss against a naive cross-entropy, label recording, Sobel + AlexNet-BN shapes."""
import math

import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from selfemb.models.losses import pseudo_label_loss
from selfemb.registry import MODELS

init_default_scope('selfemb')


def tiny_uic(**kwargs):
    cfg = dict(type='UIC', num_classes=5,
               backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, stem_channels=8,
                             base_channels=8, out_indices=(3, )),
               head=dict(type='UICHead', in_channels=64),
               data_preprocessor=dict(mean=[0, 0, 0], std=[1, 1, 1], num_views=1))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.memory.setup(12, seed=0)
    return model


def test_loss_equals_naive_cross_entropy():
    logits = torch.randn(6, 4)
    labels = torch.tensor([0, 3, 1, 1, 2, 0])
    naive = -sum(math.log(torch.softmax(logits[b], 0)[labels[b]]) for b in range(6)) / 6
    assert float(pseudo_label_loss(logits, labels)) == pytest.approx(naive, rel=1e-5)
    with pytest.raises(ValueError, match='B x K'):
        pseudo_label_loss(logits, labels[:3])


def test_loss_uses_current_labels_and_records_argmax():
    model = tiny_uic()
    model.memory.labels.copy_(torch.arange(12) % 5)
    images = torch.rand(4, 3, 32, 32)
    samples = [DataSample(metainfo=dict(sample_idx=i)) for i in (7, 2, 11, 2)]
    model.eval()  # BN in eval mode: logits are reproducible
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(model.logits(images),
                                                     torch.tensor([2, 2, 1, 2]))
        out = model.loss([images], samples)
        preds = model.logits(images).argmax(1)
    assert float(out['loss']) == pytest.approx(float(expected), rel=1e-5)
    assert model.memory.predictions[[7, 2, 11]].tolist() == preds[:3].tolist()
    assert int((model.memory.predictions >= 0).sum()) == 3  # duplicate 2: first kept
    assert torch.equal(model.memory.labels, torch.arange(12) % 5)  # labels untouched


def test_num_classes_is_set_once_and_checked():
    assert tiny_uic().head.fc.out_features == 5 and tiny_uic().memory.num_classes == 5
    with pytest.raises(ValueError, match='set it once'):
        tiny_uic(head=dict(type='UICHead', in_channels=64, num_classes=7))


def test_alexnet_bn_with_sobel_input_shapes():
    model = MODELS.build(dict(
        type='UIC', num_classes=30, sobel=True,
        backbone=dict(type='AlexNetBN', in_channels=2, out_indices=(0, 1, 2, 3, 4)),
        head=dict(type='UICHead', in_channels=256 * 36, hid_channels=(64, 32), dropout=0.5,
                  pool_size=6),
        data_preprocessor=dict(mean=[0, 0, 0], std=[1, 1, 1], num_views=1)))
    x = torch.rand(2, 3, 224, 224)
    feats = model.extract_feat(x)
    assert [tuple(f.shape[1:]) for f in feats] == [(96, 27, 27), (256, 13, 13), (384, 13, 13),
                                                   (384, 13, 13), (256, 6, 6)]
    assert model.logits(x).shape == (2, 30) and model.embed(x).shape == (2, 32)
    assert model.backbone.stages[0][0].in_channels == 2
    with pytest.raises(ValueError, match='at least 63'):
        model.backbone(torch.rand(1, 2, 32, 32))


def test_alexnet_bn_frozen_stages():
    backbone = MODELS.build(dict(type='AlexNetBN', frozen_stages=1)).train()
    assert not any(p.requires_grad for p in backbone.stages[1].parameters())
    assert all(p.requires_grad for p in backbone.stages[2].parameters())
    assert not backbone.stages[0][1].training
