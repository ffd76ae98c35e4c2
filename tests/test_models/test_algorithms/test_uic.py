"""UIC: loss against a naive cross-entropy, label recording, Sobel + AlexNet-BN shapes,
the head (BN hidden layers, classifier init) and the ResNet-50 config's official parts."""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample
from torch import nn

from selfemb.models.losses import pseudo_label_loss
from selfemb.registry import MODELS

init_default_scope('selfemb')
ROOT = Path(__file__).resolve().parents[3]


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


def test_head_with_norm_is_linear_bn_relu_per_hidden_layer():
    head = MODELS.build(dict(type='UICHead', in_channels=16, num_classes=7,
                             hid_channels=(12, 10), norm=True))
    kinds = [type(m) for m in head.hidden]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU] * 2
    linears = [m for m in head.hidden if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(16, 12), (12, 10)]
    assert all(m.bias is None for m in linears)  # BN follows: no bias, as the 1x1 convs
    assert [m.num_features for m in head.hidden if isinstance(m, nn.BatchNorm1d)] == [12, 10]
    x = torch.rand(4, 16, 3, 3)
    head.eval()  # running statistics start at 0 / 1: BN only divides by sqrt(1 + eps)
    pooled = x.mean((2, 3))
    naive = torch.relu(linears[1](torch.relu(linears[0](pooled) / math.sqrt(1 + 1e-5)))
                       / math.sqrt(1 + 1e-5))
    torch.testing.assert_close(head.features(x), naive)
    head.train()  # batch statistics: every hidden unit is normalised over the batch
    assert head(x).shape == (4, 7)
    pre_relu = head.hidden[:5](x.mean((2, 3)))
    torch.testing.assert_close(pre_relu.mean(0), torch.zeros(10), atol=1e-5, rtol=0)
    plain = MODELS.build(dict(type='UICHead', in_channels=16, num_classes=7,
                              hid_channels=(12, )))
    assert [type(m) for m in plain.hidden] == [nn.Linear, nn.ReLU]
    assert plain.hidden[0].bias is not None


def test_classifier_init_is_normal_001_with_zero_bias():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='UICHead', in_channels=2048, num_classes=3000))
    head.init_weights()  # as the Runner does: the init must survive it
    weight = head.fc.weight
    assert abs(float(weight.mean())) < 1e-4
    assert float(weight.std()) == pytest.approx(0.01, rel=0.01)
    assert bool((head.fc.bias == 0).all())
    default = MODELS.build(dict(type='UICHead', in_channels=2048, num_classes=3000,
                                fc_std=None))  # PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert float(default.fc.weight.std()) == pytest.approx(1 / math.sqrt(3 * 2048), rel=0.01)
    assert float(default.fc.bias.abs().max()) > 0
    with pytest.raises(ValueError, match='fc_std=0'):
        MODELS.build(dict(type='UICHead', in_channels=8, num_classes=3, fc_std=0))


def test_r50_config_has_the_official_head_and_residual_init():
    cfg = Config.fromfile(ROOT / 'configs/uic/r50_in1k.py')
    optimizer = cfg.optim_wrapper.optimizer  # official main.sh: LR=0.2, WD=-4, BATCH=1024
    assert optimizer.lr == 0.2 and optimizer.weight_decay == 1e-4
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 1024
    model = MODELS.build(dict(cfg.model, data_preprocessor=dict(
        mean=[0, 0, 0], std=[1, 1, 1], num_views=1)))
    model.init_weights()
    assert [type(m) for m in model.head.hidden] == [nn.Linear, nn.BatchNorm1d, nn.ReLU] * 2
    assert model.head.hidden[3].in_features == 2048 and model.head.fc.in_features == 2048
    last_bns = [block.norm3.weight for block in model.backbone.modules()
                if hasattr(block, 'norm3')]
    assert len(last_bns) == 16 and all(bool((w == 1).all()) for w in last_bns)
    assert float(model.head.fc.weight.std()) == pytest.approx(0.01, rel=0.01)
    assert bool((model.head.fc.bias == 0).all())
    for hidden in (model.head.hidden[0], model.head.hidden[3]):  # Kaiming normal, fan_out
        assert float(hidden.weight.std()) == pytest.approx(math.sqrt(2 / 2048), rel=0.01)
