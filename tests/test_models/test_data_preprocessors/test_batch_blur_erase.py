"""BatchGaussianBlur against torchvision's gaussian_blur, BatchRandomErasing against the
rules of torchvision's RandomErasing."""
import math

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF

from selfemb.models.data_preprocessors import BatchGaussianBlur, BatchRandomErasing

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize('device', DEVICES)
def test_blur_matches_torchvision_per_sample_sigma(device):
    x = torch.rand(4, 3, 20, 18, device=device)
    blur = BatchGaussianBlur(sigma=(0.1, 2.0), p=1.0)
    sigma = torch.tensor([0.1, 0.7, 1.3, 2.0], device=device)
    out = blur.blur(x, sigma)
    r = blur.radius
    assert r == 6
    for i in range(4):  # replicate-padded, then torchvision's blur, cropped back
        padded = F.pad(x[i:i + 1], (r, r, r, r), mode='replicate')
        ref = TF.gaussian_blur(padded, [2 * r + 1] * 2, [float(sigma[i])] * 2)
        torch.testing.assert_close(out[i:i + 1], ref[..., r:-r, r:-r], atol=1e-5, rtol=0)
    # away from the border, exactly torchvision's blur of the image itself
    ref = TF.gaussian_blur(x[2:3], [13, 13], [1.3, 1.3])
    torch.testing.assert_close(out[2:3, :, r:-r, r:-r], ref[..., r:-r, r:-r], atol=1e-5,
                               rtol=0)


def test_blur_probability_and_errors():
    x = torch.rand(1, 3, 8, 8).repeat(400, 1, 1, 1)
    out = BatchGaussianBlur(p=0.5)(x)
    kept = (out == x).flatten(1).all(1).float().mean().item()
    assert 0.42 < kept < 0.58
    assert torch.equal(BatchGaussianBlur(p=0.0)(x), x)
    with pytest.raises(ValueError, match='sigma'):
        BatchGaussianBlur(sigma=(2.0, 1.0))


def _boxes(out, x):
    """Per sample, the rows / columns that changed."""
    changed = (out != x).any(1)
    return changed.any(2), changed.any(1), changed


@pytest.mark.parametrize('device', DEVICES)
def test_erasing_fills_one_rectangle_of_the_documented_size(device):
    n, h, w = 2000, 32, 32
    x = torch.rand(n, 3, h, w, device=device) * 0.5 + 0.25
    value = (0.1, 0.2, 0.3)
    out = BatchRandomErasing(p=1.0, value=value)(x)
    rows, cols, changed = _boxes(out, x)
    eh, ew = rows.sum(1).float(), cols.sum(1).float()
    # the changed set is exactly the product of its rows and columns: a rectangle
    assert torch.equal(changed, rows[:, :, None] & cols[:, None, :])
    fill = torch.tensor(value, device=device).view(1, 3, 1, 1).expand_as(out)
    inside = changed[:, None].expand_as(out)
    assert torch.equal(out[inside], fill[inside]) and torch.equal(out[~inside], x[~inside])
    area = eh * ew / (h * w)
    assert bool((eh < h).all() and (ew < w).all() and (eh > 0).all())
    # rounding of h and w moves the area a little outside U(0.02, 0.33)
    assert area.min().item() > 0.015 and area.max().item() < 0.36
    assert abs(area.mean().item() - 0.175) < 0.01
    ratio = (eh / ew).log()
    assert abs(ratio.mean().item()) < 0.08  # log-uniform over (0.3, 3.3): symmetric
    # position: uniform over the valid offsets, so every row is sometimes the first
    top = rows.float().argmax(1)
    assert top.min().item() == 0 and top.max().item() >= 25


def test_erasing_probability_no_fit_and_errors():
    x = torch.rand(1, 3, 16, 16).repeat(400, 1, 1, 1)
    out = BatchRandomErasing(p=0.5)(x)
    kept = (out == x).flatten(1).all(1).float().mean().item()
    assert 0.42 < kept < 0.58
    assert torch.equal(BatchRandomErasing(p=0.0)(x), x)
    # no draw fits (every h >= H): nothing erased, as torchvision
    assert torch.equal(BatchRandomErasing(p=1.0, scale=(1.0, 1.0), ratio=(1.0, 1.0))(x), x)
    one = BatchRandomErasing(p=1.0, value=0.5)(x[:3])
    assert bool(((one == 0.5) | (one == x[:3])).all())
    with pytest.raises(ValueError, match='2 entries for 3 channels'):
        BatchRandomErasing(value=(0.1, 0.2))(x)
    with pytest.raises(ValueError, match='bad scale'):
        BatchRandomErasing(scale=(0.5, 0.1))


def test_erasing_log_aspect_is_uniform():
    boxes = BatchRandomErasing(p=1.0).sample_boxes(20000, 1000, 1000)
    log_r = (boxes[:, 2] / boxes[:, 3]).log()
    lo, hi = math.log(0.3), math.log(3.3)
    assert log_r.min().item() > lo - 0.01 and log_r.max().item() < hi + 0.01
    assert abs(log_r.std().item() - (hi - lo) / math.sqrt(12)) < 0.02
