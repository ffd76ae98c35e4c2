import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.models.backbones import ResNet_CIFAR

import selfemb.models  # noqa: F401  (registrations)


def backbone(init_cfg=None) -> ResNet_CIFAR:
    init_default_scope('selfemb')
    # as in the benchmark configs: mmpretrain's ResNet zeroes residual BNs after any
    # initialiser whose type is not exactly 'Pretrained'
    return ResNet_CIFAR(depth=18, zero_init_residual=False, init_cfg=init_cfg)


def save(path, state: dict) -> str:
    torch.save(dict(state_dict=state, meta=dict(epoch=1)), path)
    return str(path)


def test_loads_every_tensor_under_the_prefix(tmp_path):
    source = backbone()
    state = {f'backbone.{k}': v + 1 for k, v in source.state_dict().items()}
    state['neck.fc.weight'] = torch.zeros(2, 2)  # other prefixes are ignored
    ckpt = save(tmp_path / 'run.pth', state)
    model = backbone(dict(type='StrictPretrained', checkpoint=ckpt, prefix='backbone.'))
    model.init_weights()
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[f'backbone.{key}']), key


def test_missing_unexpected_and_wrong_shape_keys_are_named(tmp_path):
    state = {f'backbone.{k}': v for k, v in backbone().state_dict().items()}
    del state['backbone.layer4.1.bn2.weight']
    state['backbone.extra.weight'] = torch.zeros(1)
    state['backbone.conv1.weight'] = torch.zeros(64, 3, 7, 7)
    ckpt = save(tmp_path / 'bad.pth', state)
    model = backbone(dict(type='StrictPretrained', checkpoint=ckpt, prefix='backbone.'))
    with pytest.raises(ValueError) as info:
        model.init_weights()
    text = str(info.value)
    for part in ('bad.pth', 'layer4.1.bn2.weight', 'extra.weight', 'conv1.weight: checkpoint '
                 '(64, 3, 7, 7) vs model (64, 3, 3, 3)'):
        assert part in text, text


def test_wrong_prefix_fails_instead_of_training_a_random_backbone(tmp_path):
    ckpt = save(tmp_path / 'run.pth', {f'backbone.{k}': v
                                       for k, v in backbone().state_dict().items()})
    model = backbone(dict(type='StrictPretrained', checkpoint=ckpt, prefix='encoder.'))
    with pytest.raises((ValueError, AssertionError), match='encoder'):
        model.init_weights()
