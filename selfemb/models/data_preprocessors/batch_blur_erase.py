"""Batched Gaussian blur and random erasing (MoCo v2 / CLDm augmentations), for the GPU
data path. Same conventions as :mod:`.batch_augments`: float ``B x C x H x W`` in [0, 1],
per-sample parameters from torch's RNG on the batch's device, no per-sample loop and no
host synchronisation."""
import math
from typing import Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from selfemb.registry import TRANSFORMS

from .batch_augments import _check, _const


@TRANSFORMS.register_module()
class BatchGaussianBlur:
    """With probability ``p`` per sample, a Gaussian blur of standard deviation
    ``σ ~ U(sigma)`` (pixels), as MoCo v2's ``RandomApply([GaussianBlur([.1, 2.])], p=.5)``.

    The kernel is a sampled Gaussian truncated at ``radius`` pixels (default
    ``ceil(3 σ_max)``), normalised to sum 1, applied separably with replicated borders:
    torchvision's ``gaussian_blur(img, 2 radius + 1, σ)`` except at the border (torchvision
    reflects). The official code and ``mmpretrain.GaussianBlur`` call PIL's
    ``GaussianBlur(radius=σ)``, which approximates the same Gaussian by box blurs.
    """

    def __init__(self, sigma: Sequence[float] = (0.1, 2.0), p: float = 0.5,
                 radius: Union[int, None] = None) -> None:
        if not 0 < sigma[0] <= sigma[1]:
            raise ValueError(f'BatchGaussianBlur: need 0 < sigma[0] <= sigma[1], got {sigma}')
        self.sigma, self.p = (float(sigma[0]), float(sigma[1])), float(p)
        self.radius = int(math.ceil(3 * self.sigma[1])) if radius is None else int(radius)
        if self.radius < 1:
            raise ValueError(f'BatchGaussianBlur: radius must be >= 1, got {self.radius}')

    def blur(self, imgs: Tensor, sigma: Tensor) -> Tensor:
        """Blur sample ``i`` with standard deviation ``sigma[i]`` (all samples)."""
        _check(imgs, type(self).__name__)
        n, c, h, w = imgs.shape
        r = self.radius
        taps = torch.arange(-r, r + 1, device=imgs.device, dtype=imgs.dtype)
        kernel = torch.exp(-0.5 * (taps[None] / sigma.to(imgs.dtype)[:, None]) ** 2)
        kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)
        x = F.pad(imgs.reshape(1, n * c, h, w), (r, r, r, r), mode='replicate')
        x = F.conv2d(x, kernel.view(n * c, 1, 1, 2 * r + 1), groups=n * c)
        x = F.conv2d(x, kernel.view(n * c, 1, 2 * r + 1, 1), groups=n * c)
        return x.view(n, c, h, w)

    def __call__(self, imgs: Tensor) -> Tensor:
        n = len(imgs)
        sigma = torch.empty(n, device=imgs.device).uniform_(*self.sigma)
        on = torch.rand(n, 1, 1, 1, device=imgs.device) < self.p
        return torch.where(on, self.blur(imgs, sigma), imgs)


@TRANSFORMS.register_module()
class BatchRandomErasing:
    """torchvision ``RandomErasing``: with probability ``p`` per sample, a rectangle of
    area ``U(scale)·H·W`` and log aspect ratio ``U(log ratio)`` (``h = round(√(area·r))``,
    ``w = round(√(area/r))``, the first of ``max_tries`` draws with ``h < H`` and
    ``w < W``, none if no draw fits) at a uniform position is set to ``value``.

    ``value`` is in the [0, 1] units of the batch, before normalisation: the official
    CLD code erases AFTER ``Normalize`` with 0, i.e. with the dataset mean, so pass
    ``value = mean / 255`` (per channel) for the same images.
    """

    def __init__(self, p: float = 0.5, scale: Sequence[float] = (0.02, 0.33),
                 ratio: Sequence[float] = (0.3, 3.3),
                 value: Union[float, Sequence[float]] = 0.0, max_tries: int = 10) -> None:
        if not (0 < scale[0] <= scale[1] <= 1) or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f'BatchRandomErasing: bad scale {scale} or ratio {ratio}')
        self.p, self.scale, self.ratio = float(p), tuple(scale), tuple(ratio)
        self.value = tuple(value) if isinstance(value, Sequence) else (float(value), )
        self.max_tries = int(max_tries)

    def sample_boxes(self, n: int, height: int, width: int,
                     device: Union[str, torch.device] = 'cpu') -> Tensor:
        """``n x 4`` boxes ``(top, left, h, w)``; ``h = w = 0`` where nothing is erased."""
        tries = (n, self.max_tries)
        area = torch.empty(tries, device=device).uniform_(*self.scale) * (height * width)
        aspect = torch.exp(torch.empty(tries, device=device).uniform_(
            *map(math.log, self.ratio)))
        h, w = (area * aspect).sqrt().round(), (area / aspect).sqrt().round()
        ok = (h < height) & (w < width)
        first = ok.to(torch.uint8).argmax(1, keepdim=True)
        erase = ok.any(1) & (torch.rand(n, device=device) < self.p)
        h = torch.where(erase, h.gather(1, first).squeeze(1), 0.0)
        w = torch.where(erase, w.gather(1, first).squeeze(1), 0.0)
        u = torch.rand(2, n, device=device)
        top = (u[0] * (height - h + 1)).floor().clamp(max=height - h)
        left = (u[1] * (width - w + 1)).floor().clamp(max=width - w)
        return torch.stack([top, left, h, w], 1)

    def __call__(self, imgs: Tensor) -> Tensor:
        _check(imgs, type(self).__name__)
        n, c, height, width = imgs.shape
        if len(self.value) not in (1, c):
            raise ValueError(f'BatchRandomErasing: value has {len(self.value)} entries for '
                             f'{c} channels')
        top, left, h, w = self.sample_boxes(n, height, width, imgs.device).T[..., None]
        rows = torch.arange(height, device=imgs.device, dtype=top.dtype)
        cols = torch.arange(width, device=imgs.device, dtype=top.dtype)
        in_rows = (rows >= top) & (rows < top + h)  # n x H
        in_cols = (cols >= left) & (cols < left + w)  # n x W
        mask = (in_rows[:, :, None] & in_cols[:, None, :])[:, None]
        # cached: no host-to-device copy per call (CUDA-graph capture forbids one)
        return torch.where(mask, _const(self.value, imgs), imgs)
