import colorsys
import itertools
import math

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2 as T
import torchvision.transforms.v2.functional as TF

from selfemb.models.data_preprocessors.batch_augments import (
    BatchColorJitter,
    BatchHorizontalFlip,
    BatchRandomGrayscale,
    BatchRandomResizedCrop,
    adjust_hue,
    hcv_to_rgb,
    rgb_to_hcv,
)

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
LUMA = (0.299, 0.587, 0.114)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def rand_imgs(n=8, h=10, w=12, device='cpu'):
    return torch.rand(n, 3, h, w, device=device)


@pytest.mark.parametrize('device', DEVICES)
def test_flip(device):
    x = rand_imgs(device=device)
    assert torch.equal(BatchHorizontalFlip(p=1.0)(x), torch.flip(x, [3]))
    assert torch.equal(BatchHorizontalFlip(p=0.0)(x), x)
    ref = x.repeat(50, 1, 1, 1)
    out = BatchHorizontalFlip(p=0.5)(ref)
    flipped = (out == torch.flip(ref, [3])).flatten(1).all(1)
    kept = (out == ref).flatten(1).all(1)
    assert bool((flipped | kept).all()) and 0.38 < flipped.float().mean().item() < 0.62


@pytest.mark.parametrize('device', DEVICES)
def test_grayscale(device):
    x = rand_imgs(device=device)
    luma = sum(c * x[:, i:i + 1].double() for i, c in enumerate(LUMA))
    out = BatchRandomGrayscale(p=1.0)(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    torch.testing.assert_close(out.double(), luma.expand_as(x), atol=1e-6, rtol=0)
    assert torch.equal(BatchRandomGrayscale(p=0.0)(x), x)
    out = BatchRandomGrayscale(p=0.2)(x.repeat(250, 1, 1, 1))
    gray = (out[:, 0] == out[:, 1]).flatten(1).all(1) & (out[:, 1] == out[:, 2]).flatten(1).all(1)
    assert 0.15 < gray.float().mean().item() < 0.25
    with pytest.raises(ValueError, match='3-channel'):
        BatchRandomGrayscale()(torch.rand(2, 1, 4, 4))
    with pytest.raises(ValueError, match='float'):
        BatchRandomGrayscale()(torch.zeros(2, 3, 4, 4, dtype=torch.uint8))


@pytest.mark.parametrize('device', DEVICES)
def test_rrc_identity_shape_range(device):
    x = rand_imgs(6, 11, 11, device)
    out = BatchRandomResizedCrop(11, scale=(1, 1), ratio=(1, 1))(x)
    torch.testing.assert_close(out, x, atol=1e-6, rtol=0)
    out = BatchRandomResizedCrop((12, 20), scale=(0.2, 1.0))(x)
    assert out.shape == (6, 3, 12, 20) and out.dtype == x.dtype and out.device == x.device
    assert out.min() >= x.min() - 1e-6 and out.max() <= x.max() + 1e-6


def test_rrc_box_statistics_match_torchvision_sampling():
    # Square image, scale (0.2, 1), ratio (3/4, 4/3): a draw fits iff a <= min(r, 1/r), so
    # the kept area fraction has mean  int (m^2 - .04)/2 du / int (m - .2) du,  m = e^-|u|,
    # u ~ U(-L, L), L = log 4/3  (the fallback has probability ~1e-8 with 10 tries).
    L = math.log(4 / 3)
    expected = ((1 - math.exp(-2 * L)) / 2 - 0.04 * L) / 2 / ((1 - math.exp(-L)) - 0.2 * L)
    assert abs(expected - 0.5384) < 1e-3  # a uniform area without rejection would give 0.6
    rrc = BatchRandomResizedCrop(32, scale=(0.2, 1.0))
    boxes = rrc.sample_boxes(100_000, 1000, 1000)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    area = w * h / 1e6
    assert abs(area.mean().item() - expected) < 0.004
    assert area.min() > 0.2 - 0.003 and area.max() <= 1.0
    aspect = w / h
    assert aspect.min() > 0.75 - 0.003 and aspect.max() < 4 / 3 + 0.003
    assert boxes.min() >= 0 and boxes[:, 2].max() <= 1000 and boxes[:, 3].max() <= 1000
    assert torch.equal(boxes, boxes.round())
    # log-uniform aspect: log-ratio of the kept boxes is symmetric around 0
    assert abs(aspect.log().mean().item()) < 0.005
    # positions are uniform over the valid range: mean relative offset ~ 1/2
    rel = boxes[:, 0] / (1000 - w).clamp(min=1)
    assert abs(rel[w < 900].mean().item() - 0.5) < 0.01


def test_rrc_fallback_is_central_crop():
    rrc = BatchRandomResizedCrop(8, scale=(0.9, 1.0), ratio=(4.0, 5.0))  # nothing ever fits
    boxes = rrc.sample_boxes(50, 40, 40)
    assert torch.equal(boxes, torch.tensor([[0.0, 15.0, 40.0, 25.0]]).expand(50, 4))


def test_rrc_resampling_matches_torchvision_resized_crop():
    x = rand_imgs(2, 24, 24)
    rrc = BatchRandomResizedCrop(16)
    boxes = torch.tensor([[3.0, 5.0, 10.0, 10.0], [8.0, 2.0, 20.0, 11.0]])  # x1, y1, x2, y2
    out = rrc.crop(x, boxes)
    for i, (x1, y1, x2, y2) in enumerate(boxes.int().tolist()):
        ref = TF.resized_crop(x[i], y1, x1, y2 - y1, x2 - x1, [16, 16], antialias=True)
        # upsampling: the same bilinear sampling (pixel centres aligned) wherever the sample
        # point lies inside the crop; at the crop's edge resize clamps to the crop while
        # roi_align reads the neighbouring image pixel
        inside = [((torch.arange(16) + 0.5) * n / 16 - 0.5).clamp(0, n - 1) ==
                  (torch.arange(16) + 0.5) * n / 16 - 0.5 for n in (y2 - y1, x2 - x1)]
        mask = inside[0][:, None] & inside[1][None, :]
        assert mask.sum() > 80 and (~mask).any()
        torch.testing.assert_close(out[i][:, mask], ref[:, mask], atol=1e-5, rtol=0)
        assert (out[i][:, ~mask] - ref[:, ~mask]).abs().max() > 1e-3
    # 2x downsampling averages the samples inside each output pixel (antialiasing)
    out = BatchRandomResizedCrop(8).crop(x, torch.tensor([[2.0, 3.0, 18.0, 19.0]] * 2))
    torch.testing.assert_close(out, F.avg_pool2d(x[:, :, 3:19, 2:18], 2), atol=1e-5, rtol=0)


def test_hsv_round_trip_and_hue_against_references():
    x = rand_imgs(4, 9, 7)
    x[0, :, 0, 0] = 0.5  # achromatic pixel
    hue, chroma, value = rgb_to_hcv(x)
    torch.testing.assert_close(hcv_to_rgb(hue, chroma, value), x, atol=1e-5, rtol=0)
    for (r, g, b), h6 in zip(x.permute(0, 2, 3, 1).reshape(-1, 3)[:200].tolist(),
                             hue.flatten()[:200].tolist()):
        assert h6 / 6 == pytest.approx(colorsys.rgb_to_hsv(r, g, b)[0], abs=1e-5)
    for shift in (0.3, -0.45, 0.1):
        torch.testing.assert_close(adjust_hue(x, torch.full((4, ), shift)), TF.adjust_hue(x, shift),
                                   atol=1e-5, rtol=0)
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1).repeat(2, 1, 1, 1)
    torch.testing.assert_close(adjust_hue(red, torch.tensor([1 / 3, -1 / 3])).flatten(1),
                               torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), atol=1e-6, rtol=0)


def test_color_jitter_identity_and_errors():
    x = rand_imgs()
    assert torch.equal(BatchColorJitter(0, 0, 0, 0)(x), x)
    assert torch.equal(BatchColorJitter(0.4, 0.4, 0.4, 0.4, p=0.0)(x), x)
    with pytest.raises(ValueError, match='hue'):
        BatchColorJitter(hue=0.6)
    with pytest.raises(ValueError, match='3-channel'):
        BatchColorJitter()(torch.rand(2, 1, 4, 4))


def test_color_jitter_brightness_factor_bounds():
    x = torch.rand(2000, 3, 4, 4) * 0.65 + 0.05  # x * 1.4 < 1: no clamping
    ratio = BatchColorJitter(brightness=0.4, contrast=0, saturation=0, hue=0)(x) / x
    per_image = ratio.flatten(1)
    assert (per_image.max(1).values - per_image.min(1).values).max() < 1e-5  # one factor each
    b = per_image[:, 0]
    assert b.min() >= 0.6 - 1e-5 and b.max() <= 1.4 + 1e-5
    assert b.min() < 0.62 and b.max() > 1.38 and abs(b.mean().item() - 1.0) < 0.02


def test_color_jitter_p_applies_whole_jitter_per_sample():
    x = rand_imgs(4, 3, 3).repeat(500, 1, 1, 1)
    out = BatchColorJitter(p=0.8)(x)
    unchanged = (out == x).flatten(1).all(1).float().mean().item()
    assert 0.16 < unchanged < 0.24


def test_color_jitter_order_is_random_per_sample():
    factors, order = BatchColorJitter().sample_params(4800, 'cpu')
    assert torch.equal(order.sort(1).values, torch.arange(4).expand(4800, 4))
    counts = {p: 0 for p in itertools.permutations(range(4))}
    for row in order.tolist():
        counts[tuple(row)] += 1
    assert min(counts.values()) > 120 and max(counts.values()) < 280  # ~200 each, all 24
    assert factors[:, :3].min() >= 0.6 and factors[:, :3].max() <= 1.4
    assert factors[:, 3].abs().max() <= 0.4 and factors[:, 3].abs().max() > 0.39


def test_color_jitter_matches_torchvision_ops_in_the_sampled_order():
    x = rand_imgs(24, 6, 5)
    cj = BatchColorJitter()
    factors, order = cj.sample_params(24, 'cpu')
    out = cj.apply(x, factors, order)
    ops = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]

    def reference(orders):
        refs = []
        for i in range(len(x)):
            img = x[i]
            for k in orders[i].tolist():
                img = ops[k](img, factors[i, k].item())
            refs.append(img)
        return torch.stack(refs)

    # torchvision's luma weighs red 0.2989 (we use BT.601's 0.299): 1e-3 covers it
    torch.testing.assert_close(out, reference(order), atol=1e-3, rtol=0)
    # the order matters for these factors, so a fixed order would not pass the check above
    assert (out - reference(order.flip(1))).abs().amax() > 0.02
    assert out.min() >= 0 and out.max() <= 1


def test_color_jitter_distribution_matches_torchvision():
    base = rand_imgs(2, 6, 6) * 0.5
    base[0, 0] += 0.5  # a reddish and a cyan-ish image, so hue and saturation show
    base[1, 1:] += 0.4
    n = 150
    ours = BatchColorJitter(0.4, 0.4, 0.4, 0.4)(base.repeat_interleave(n, 0)).view(2, n, 3, 6, 6)
    tv = T.ColorJitter(0.4, 0.4, 0.4, 0.4)
    theirs = torch.stack([torch.stack([tv(img) for _ in range(n)]) for img in base])

    def stats(y):  # per image: channel means, luma std (contrast), mean chroma (saturation)
        luma = sum(c * y[..., i, :, :] for i, c in enumerate(LUMA))
        chroma = (y.amax(-3) - y.amin(-3)).mean((-2, -1))
        return torch.cat([y.mean((-2, -1)), luma.flatten(-2).std(-1)[..., None], chroma[..., None]],
                         -1)

    for s_ours, s_theirs in zip(stats(ours), stats(theirs)):
        se = ((s_ours.var(0) + s_theirs.var(0)) / n).sqrt()
        assert ((s_ours.mean(0) - s_theirs.mean(0)).abs() < 4.5 * se).all()
        ratio = s_ours.std(0) / s_theirs.std(0)
        assert ((ratio > 0.75) & (ratio < 1.33)).all(), ratio
