import pytest
import torch

from selfemb.models.necks import LinearNeck, NonLinearNeck


def test_linear_neck_pools_projects_and_normalises():
    neck = LinearNeck(in_channels=6, out_channels=3)
    x = torch.randn(2, 6, 4, 4)
    out = neck((x, ))
    expected = torch.nn.functional.normalize(neck.fc(x.mean(dim=(2, 3))), dim=1)
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(LinearNeck(6, 3, norm=False)(x).norm(dim=1) > 0, torch.tensor(True))


def test_nonlinear_neck_layers():
    neck = NonLinearNeck(in_channels=6, hid_channels=10, out_channels=4, num_layers=3,
                         with_bn=True)
    linears = [m for m in neck.mlp if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [10, 10, 4]
    out = neck([torch.randn(5, 6, 2, 2)])
    assert out.shape == (5, 4)
    assert torch.allclose(out.norm(dim=1), torch.ones(5), atol=1e-5)
    with pytest.raises(ValueError, match='num_layers'):
        NonLinearNeck(6, num_layers=1)
