import pytest
import torch
import torch.nn.functional as F

from selfemb.models.backbones import SobelResNet
from selfemb.models.utils import sobel_filter
from selfemb.registry import MODELS

TRUNK = dict(type='mmpretrain.ResNet_CIFAR', depth=18)


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return MODELS.build(dict(type='SobelResNet', trunk=TRUNK))


def test_shapes_and_separate_trunks(model):
    out = model(torch.randn(2, 3, 16, 16))
    assert isinstance(out, tuple) and len(out) == 1 and out[0].shape == (2, 1024)
    assert model.trunk.conv1.in_channels == 3 and model.sobel_trunk.conv1.in_channels == 2
    assert model.trunk.layer4[1].conv2.weight is not model.sobel_trunk.layer4[1].conv2.weight
    single = SobelResNet(TRUNK, with_sobel=False)
    assert single(torch.randn(2, 3, 16, 16))[0].shape == (2, 512)
    assert not hasattr(single, 'sobel_trunk')


def test_forward_is_concatenation_of_pooled_trunks(model):
    model.eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        rgb = F.adaptive_avg_pool2d(model.trunk(x)[-1], 1).flatten(1)
        edges = model.sobel_trunk(sobel_filter(x))[-1].mean(dim=(2, 3))
        assert torch.allclose(model(x)[0], torch.cat([rgb, edges], 1), atol=1e-5)
    model.train()


def test_sobel_conv_is_frozen_and_trunks_learn(model):
    names = [n for n, _ in model.named_parameters()]
    assert not any(n.startswith('sobel.') for n in names)
    assert not any(k.startswith('sobel.') for k in model.state_dict())
    kernels = model.sobel.kernels.clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=5e-4)
    model(torch.randn(2, 3, 16, 16))[0].square().sum().backward()
    assert model.trunk.conv1.weight.grad.abs().sum() > 0
    assert model.sobel_trunk.conv1.weight.grad.abs().sum() > 0
    opt.step()
    opt.zero_grad()
    assert torch.equal(model.sobel.kernels, kernels)


def test_rgb_trunk_is_a_plain_mmpretrain_backbone(model):
    """Transfer takes the weights under ``backbone.trunk.``: they load into the trunk
    config alone with no missing or unexpected key."""
    plain = MODELS.build(TRUNK)
    state = {k[len('trunk.'):]: v for k, v in model.state_dict().items()
             if k.startswith('trunk.')}
    plain.load_state_dict(state, strict=True)


def test_bad_trunks():
    with pytest.raises(ValueError, match="'type'"):
        SobelResNet(dict(depth=18))
    with pytest.raises(TypeError, match="'mmpretrain.AlexNet' cannot be built with in_channels=2"):
        SobelResNet(dict(type='mmpretrain.AlexNet'))
