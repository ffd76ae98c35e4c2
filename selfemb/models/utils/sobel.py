"""Fixed grayscale -> Sobel-x / Sobel-y filter (Super-AND's edge branch, DeepCluster-style)."""
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

# Kernels of the official Super-AND code, applied as a cross-correlation (F.conv2d):
# x responds with 4 * (left - right) to a vertical edge, y with 4 * (top - bottom).
SOBEL_X = ((1., 0., -1.), (2., 0., -2.), (1., 0., -1.))
SOBEL_Y = ((1., 2., 1.), (0., 0., 0.), (-1., -2., -1.))
PADDINGS = ('zeros', 'replicate')


def sobel_kernels(dtype: torch.dtype = torch.float32,
                  device: torch.device = None) -> torch.Tensor:
    """The ``2 x 1 x 3 x 3`` conv weight: Sobel-x then Sobel-y."""
    return torch.tensor([[SOBEL_X], [SOBEL_Y]], dtype=dtype, device=device)


def sobel_filter(images: torch.Tensor,
                 gray_weights: Union[Sequence[float], torch.Tensor] = (1 / 3, 1 / 3, 1 / 3),
                 padding: str = 'zeros', kernels: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``B x C x H x W`` images -> ``B x 2 x H x W`` Sobel-x / Sobel-y of their gray image.

    ``gray = Σ_c w_c x_c`` (a fixed 1x1 conv; the official code uses ``w_c = 1/3`` on the
    normalised input), then the 3x3 Sobel kernels (``kernels``, default
    :func:`sobel_kernels`) with stride 1 and one pixel of padding: ``'zeros'`` as the
    official ``nn.Conv2d(padding=1)`` (borders see an edge to 0), ``'replicate'`` repeats
    the border pixels (a constant image gives exactly 0).
    """
    weights = torch.as_tensor(gray_weights, dtype=images.dtype, device=images.device)
    if images.dim() != 4 or weights.dim() != 1 or images.size(1) != weights.numel():
        raise ValueError(f'sobel_filter expects B x {weights.numel()} x H x W images (one '
                         f'gray weight per channel), got shape {tuple(images.shape)}')
    if padding not in PADDINGS:
        raise ValueError(f'sobel_filter: padding must be one of {PADDINGS}, got {padding!r}')
    kernels = sobel_kernels() if kernels is None else kernels
    gray = torch.einsum('bchw,c->bhw', images, weights).unsqueeze(1)
    if padding == 'replicate':
        gray = F.pad(gray, (1, 1, 1, 1), mode='replicate')
    return F.conv2d(gray, kernels.to(images.device, images.dtype),
                    padding=1 if padding == 'zeros' else 0)


class SobelFilter(nn.Module):
    """:func:`sobel_filter` as a module whose weights are fixed, non-trainable buffers.

    The gray and Sobel weights are non-persistent buffers (constants of the config, not
    checkpoint state): they follow ``.to(device)`` but are no parameters, so neither the
    optimiser nor weight decay ever touches them.
    """

    def __init__(self, gray_weights: Sequence[float] = (1 / 3, 1 / 3, 1 / 3),
                 padding: str = 'zeros') -> None:
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f'SobelFilter: padding must be one of {PADDINGS}, got {padding!r}')
        self.padding = padding
        self.register_buffer('gray_weights', torch.tensor([float(w) for w in gray_weights]),
                             persistent=False)
        self.register_buffer('kernels', sobel_kernels(), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return sobel_filter(images, self.gray_weights, self.padding, self.kernels)
