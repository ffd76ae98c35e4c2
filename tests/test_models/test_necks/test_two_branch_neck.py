"""TwoBranchNeck: shapes, unit norms, layer options, errors."""
import pytest
import torch

from selfemb.models.necks import NormedLinear, TwoBranchNeck


@pytest.mark.parametrize('group_layer', ['linear', 'normed_linear'])
def test_two_unit_norm_outputs(group_layer):
    neck = TwoBranchNeck(in_channels=16, out_channels=8, group_channels=6,
                         group_layer=group_layer)
    feats = (torch.randn(5, 16, 3, 3), )  # mmpretrain backbones return tuples
    inst, group = neck(feats)
    assert inst.shape == (5, 8) and group.shape == (5, 6)
    torch.testing.assert_close(inst.norm(dim=1), torch.ones(5))
    torch.testing.assert_close(group.norm(dim=1), torch.ones(5))
    (inst.sum() + group.sum()).backward()
    assert neck.instance_fc.weight.grad is not None and neck.group_fc.weight.grad is not None


def test_branches_differ_and_normed_linear_is_cosine():
    layer = NormedLinear(4, 3)
    x = torch.randn(2, 4)
    w = layer.weight / layer.weight.norm(dim=0, keepdim=True)
    torch.testing.assert_close(layer(x), (x / x.norm(dim=1, keepdim=True)) @ w)
    neck = TwoBranchNeck(in_channels=4, out_channels=3, group_channels=3)
    inst, group = neck(torch.randn(2, 4))
    assert not torch.allclose(inst, group)


def test_unknown_layer_is_an_error():
    with pytest.raises(ValueError, match="group_layer must be 'linear' or 'normed_linear'"):
        TwoBranchNeck(in_channels=4, group_layer='mlp')


def test_default_is_plain_linear_on_both_branches_as_the_official_default():
    neck = TwoBranchNeck(in_channels=4, out_channels=3, group_channels=3)
    assert type(neck.instance_fc) is torch.nn.Linear and type(neck.group_fc) is torch.nn.Linear
