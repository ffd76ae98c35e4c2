import pytest
import torch

from selfemb.models.utils import SobelFilter, sobel_filter

KX = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
KY = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]


def naive_sobel(img: torch.Tensor, weights, padding: str) -> torch.Tensor:
    """Gray image, then the 3x3 cross-correlation written out pixel by pixel (float64)."""
    gray = sum(w * img[c] for c, w in enumerate(weights))
    h, w = gray.shape

    def at(r, c):
        if padding == 'replicate':
            return gray[min(max(r, 0), h - 1), min(max(c, 0), w - 1)]
        return gray[r, c] if 0 <= r < h and 0 <= c < w else 0.0

    out = torch.zeros(2, h, w, dtype=torch.float64)
    for k, kernel in enumerate((KX, KY)):
        for r in range(h):
            for c in range(w):
                out[k, r, c] = sum(kernel[i][j] * at(r + i - 1, c + j - 1)
                                   for i in range(3) for j in range(3))
    return out


@pytest.mark.parametrize('padding', ['zeros', 'replicate'])
def test_matches_naive_reference(padding):
    torch.manual_seed(0)
    img = torch.randn(2, 3, 6, 7, dtype=torch.float64)
    weights = (0.299, 0.587, 0.114)
    ours = sobel_filter(img, weights, padding)
    for b in range(2):
        assert torch.allclose(ours[b], naive_sobel(img[b], weights, padding), atol=1e-12)
    module = SobelFilter(weights, padding).double()
    assert torch.allclose(module(img), ours, atol=1e-12)


def test_vertical_step_edge():
    img = torch.zeros(1, 3, 8, 8)
    img[..., 4:] = 1.0  # dark left half, bright right half
    out = sobel_filter(img, padding='replicate')
    # x: 4 * (left - right) in the two columns beside the edge, 0 elsewhere; y: 0 everywhere
    expected_x = torch.zeros(8, 8)
    expected_x[:, 3:5] = -4.0
    assert torch.equal(out[0, 0], expected_x)
    assert torch.equal(out[0, 1], torch.zeros(8, 8))
    zeros = sobel_filter(img)  # official zero padding: same away from the border
    assert torch.equal(zeros[0, 0, 1:-1, 1:-1], expected_x[1:-1, 1:-1])
    assert torch.equal(zeros[0, 1, 1:-1], torch.zeros(6, 8))
    # the transposed image (a horizontal edge) answers in y only
    out_t = sobel_filter(img.transpose(2, 3).contiguous(), padding='replicate')
    assert torch.equal(out_t[0, 1], expected_x.t()) and not out_t[0, 0].any()


def test_constant_image_and_gray_weights():
    const = torch.full((2, 3, 5, 5), 0.7)  # zero up to the float32 rounding of the conv
    assert sobel_filter(const, padding='replicate').abs().max() < 1e-6
    assert sobel_filter(const)[:, :, 1:-1, 1:-1].abs().max() < 1e-6
    assert sobel_filter(const)[:, 0, :, 0].max() < -1.0  # zero padding: an edge at the border
    red_edge = torch.zeros(1, 3, 5, 5)
    red_edge[:, 0, :, 3:] = 1.0  # an edge in the red channel only
    assert sobel_filter(red_edge, (1, 0, 0), 'replicate').abs().sum() > 0
    assert not sobel_filter(red_edge, (0, 1, 0), 'replicate').any()


def test_module_is_fixed_and_errors():
    module = SobelFilter()
    assert list(module.parameters()) == [] and module.state_dict() == {}
    assert {n for n, _ in module.named_buffers()} == {'gray_weights', 'kernels'}
    assert torch.equal(module.kernels[0, 0], torch.tensor(KX, dtype=torch.float32))
    with pytest.raises(ValueError, match=r'B x 3 x H x W.*\(2, 1, 4, 4\)'):
        module(torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match="'reflect'"):
        SobelFilter(padding='reflect')
