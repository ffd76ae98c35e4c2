"""Batched augmentations with per-sample random parameters, for the GPU data path.

Each transform takes a float ``B x C x H x W`` batch in ``[0, 1]`` and returns one of
the same layout. Parameters are drawn per sample with torch's RNG on the batch's device
and every step is a batched tensor op: no Python loop over samples and no host-device
synchronisation, so the CPU can queue the whole step ahead of the GPU. They mirror the
semantics of torchvision's ``RandomResizedCrop``, ``ColorJitter``, ``RandomGrayscale``
and ``RandomHorizontalFlip`` (grayscale uses the BT.601 luma 0.299/0.587/0.114).
"""
import math
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torchvision.ops import roi_align

from selfemb.registry import TRANSFORMS

_CONSTS: Dict[tuple, Tensor] = {}


def _const(values: Tuple[float, ...], like: Tensor) -> Tensor:
    """A cached ``1 x len(values) x 1 x 1`` tensor on ``like``'s device (no copy per call)."""
    key = (values, like.device, like.dtype)
    if key not in _CONSTS:
        _CONSTS[key] = torch.tensor(values, dtype=like.dtype, device=like.device).view(1, -1, 1, 1)
    return _CONSTS[key]


def _check(imgs: Tensor, name: str, rgb: bool = False) -> None:
    if imgs.ndim != 4 or not imgs.is_floating_point():
        raise ValueError(f'{name}: expected a float B x C x H x W batch in [0, 1], '
                         f'got dtype {imgs.dtype} shape {tuple(imgs.shape)}')
    if rgb and imgs.shape[1] != 3:
        raise ValueError(f'{name}: needs 3-channel RGB images, got {imgs.shape[1]} channels')


def rgb_to_gray(imgs: Tensor) -> Tensor:
    """Luma ``0.299 R + 0.587 G + 0.114 B`` as ``B x 1 x H x W``."""
    return (imgs * _const((0.299, 0.587, 0.114), imgs)).sum(1, keepdim=True)


def rgb_to_hcv(imgs: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Hue in sextants ``[0, 6)``, chroma ``max - min`` and value ``max`` (HSV with V*S = C)."""
    value, arg = imgs.max(1, keepdim=True)
    chroma = value - imgs.amin(1, keepdim=True)
    # (g - b, b - r, r - g) / C + (0, 2, 4); the channel holding the max picks the sextant.
    # Ties between max channels give the same hue (mod 6), so argmax's tie order is harmless.
    num = imgs.roll(-1, 1) - imgs.roll(1, 1)
    hue = num / torch.where(chroma > 0, chroma, 1.0) + _const((0.0, 2.0, 4.0), imgs)
    return hue.gather(1, arg).remainder(6.0), chroma, value


def hcv_to_rgb(hue: Tensor, chroma: Tensor, value: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_hcv`: ``V - C * clamp(min(k, 4 - k), 0, 1)``,
    ``k = (n + H) mod 6`` with ``n = 5, 3, 1`` for R, G, B."""
    k = (hue + _const((5.0, 3.0, 1.0), hue)).remainder(6.0)
    return value - chroma * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)


def adjust_hue(imgs: Tensor, shift: Tensor) -> Tensor:
    """Rotate the hue by ``shift`` (per sample, fraction of a turn) as torchvision's adjust_hue."""
    hue, chroma, value = rgb_to_hcv(imgs)
    return hcv_to_rgb(hue + 6.0 * shift.view(-1, 1, 1, 1), chroma, value)


@TRANSFORMS.register_module()
class BatchRandomResizedCrop:
    """torchvision ``RandomResizedCrop``: area fraction ~ U(scale), log aspect ratio ~
    U(log ratio), the first of ``max_tries`` draws that fits (all tries drawn at once),
    else the central crop; uniform position. Resampled bilinearly with ``roi_align
    (aligned=True, sampling_ratio=-1)``: one fused kernel per batch, pixel-centre aligned
    like a bilinear ``resize`` of the crop, except that the outermost output rows and
    columns interpolate with the image pixels just outside the box (a crop-then-resize
    clamps to the crop's edge; mean |difference| about 0.1 % of the range at 32 px), and
    averaging the samples inside each output pixel when downsampling (antialiasing like
    torchvision's default ``antialias=True``, which affine ``grid_sample`` lacks). It is also
    faster: 0.12 vs 0.36 ms (32 px), 0.17 vs 0.5 ms (96 px) for 256 crops on an H100."""

    def __init__(self, size: Union[int, Sequence[int]], scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3), max_tries: int = 10) -> None:
        self.size = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        if not (0 < scale[0] <= scale[1]) or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f'BatchRandomResizedCrop: bad scale {scale} or ratio {ratio}')
        self.scale, self.ratio, self.max_tries = tuple(scale), tuple(ratio), int(max_tries)

    def _fallback(self, height, width) -> Tuple:
        """Width and height of the central crop used when no try fits: numbers for one image
        size, tensors for per-sample sizes."""
        if not isinstance(height, Tensor):
            in_ratio = width / height
            if in_ratio < self.ratio[0]:
                return float(width), float(round(width / self.ratio[0]))
            if in_ratio > self.ratio[1]:
                return float(round(height * self.ratio[1])), float(height)
            return float(width), float(height)
        in_ratio = width / height
        fw = torch.where(in_ratio > self.ratio[1], (height * self.ratio[1]).round(), width)
        fh = torch.where(in_ratio < self.ratio[0], (width / self.ratio[0]).round(), height)
        return fw, fh

    def sample_boxes(self, n: int, height: Union[int, Tensor], width: Union[int, Tensor],
                     device: Union[str, torch.device] = 'cpu') -> Tensor:
        """``n x 4`` integer-valued float boxes ``(x1, y1, x2, y2)`` (x2, y2 exclusive).

        ``height`` and ``width`` are one image size for all ``n`` boxes (ints: no host to
        device copy), or ``n`` sizes on ``device`` (one per box: images of different sizes,
        e.g. decoded JPEGs)."""
        if isinstance(height, Tensor):
            height, width = height.float(), width.float()
            area_scale = (height * width)[:, None]
            max_h, max_w = height[:, None], width[:, None]
        else:
            area_scale, max_h, max_w = height * width, height, width
        tries = (n, self.max_tries)
        area = torch.empty(tries, device=device).uniform_(*self.scale) * area_scale
        log_r = torch.empty(tries, device=device).uniform_(*map(math.log, self.ratio))
        aspect = torch.exp(log_r)
        w, h = (area * aspect).sqrt().round(), (area / aspect).sqrt().round()
        ok = (w > 0) & (w <= max_w) & (h > 0) & (h <= max_h)
        first = ok.to(torch.uint8).argmax(1, keepdim=True)  # first fitting try
        found = ok.any(1)
        fw, fh = self._fallback(height, width)
        w = torch.where(found, w.gather(1, first).squeeze(1), fw)
        h = torch.where(found, h.gather(1, first).squeeze(1), fh)
        u = torch.rand(2, n, device=device)
        x = torch.minimum((u[0] * (width - w + 1)).floor(), width - w)
        y = torch.minimum((u[1] * (height - h + 1)).floor(), height - h)
        x = torch.where(found, x, (width - fw) // 2)
        y = torch.where(found, y, (height - fh) // 2)
        return torch.stack([x, y, x + w, y + h], 1)

    def crop(self, imgs: Tensor, boxes: Tensor) -> Tensor:
        """Resample box ``i`` of image ``i`` to ``self.size``."""
        index = torch.arange(len(imgs), device=imgs.device, dtype=imgs.dtype)
        rois = torch.cat([index[:, None], boxes.to(imgs.dtype)], 1)
        return roi_align(imgs, rois, self.size, spatial_scale=1.0, sampling_ratio=-1,
                         aligned=True)

    def __call__(self, imgs: Tensor) -> Tensor:
        _check(imgs, type(self).__name__)
        boxes = self.sample_boxes(len(imgs), imgs.shape[2], imgs.shape[3], imgs.device)
        return self.crop(imgs, boxes)


@TRANSFORMS.register_module()
class BatchColorJitter:
    """torchvision ``ColorJitter``: brightness ``x*b``; contrast blends with the image's
    mean luma; saturation blends with the luma; hue rotates H in HSV; factors uniform in
    ``[max(0, 1 - v), 1 + v]`` (hue in ``[-v, v]``), clamped to [0, 1] after each op,
    the four applied in a random order drawn per sample. The whole jitter is applied
    to a sample with probability ``p`` (SimCLR's ``RandomApply(p=0.8)``)."""

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.4,
                 hue: float = 0.4, p: float = 1.0) -> None:
        self.ranges = [self._range(v, name) for v, name in
                       ((brightness, 'brightness'), (contrast, 'contrast'),
                        (saturation, 'saturation'))]
        if not 0 <= hue <= 0.5:
            raise ValueError(f'BatchColorJitter: hue must be in [0, 0.5], got {hue}')
        self.hue, self.p = float(hue), float(p)

    @staticmethod
    def _range(value: float, name: str) -> Optional[Tuple[float, float]]:
        if value < 0:
            raise ValueError(f'BatchColorJitter: {name} must be >= 0, got {value}')
        return None if value == 0 else (max(0.0, 1.0 - value), 1.0 + value)

    def sample_params(self, n: int, device: Union[str, torch.device]) -> Tuple[Tensor, Tensor]:
        """``factors`` (n x 4: brightness, contrast, saturation, hue shift; identity where
        an op is off or the jitter is not applied) and ``order`` (n x 4 permutations)."""
        factors = torch.ones(n, 4, device=device)
        factors[:, 3] = 0.0
        for j, rng in enumerate(self.ranges):
            if rng is not None:
                factors[:, j].uniform_(*rng)
        if self.hue > 0:
            factors[:, 3].uniform_(-self.hue, self.hue)
        if self.p < 1:
            keep = torch.rand(n, 1, device=device) < self.p
            identity = torch.ones(1, 4, device=device)
            identity[:, 3] = 0.0
            factors = torch.where(keep, factors, identity)
        order = torch.rand(n, 4, device=device).argsort(1)
        return factors, order

    def apply(self, imgs: Tensor, factors: Tensor, order: Tensor) -> Tensor:
        """Apply given per-sample ``factors`` in per-sample ``order`` (0 brightness,
        1 contrast, 2 saturation, 3 hue). At step k each sample runs its own op: one
        batched blend covers the three linear ops (factor 1 = identity elsewhere), one
        batched hue rotation is kept only where the sample's step-k op is hue."""
        _check(imgs, type(self).__name__, rgb=True)
        n = len(imgs)
        blend_on = any(r is not None for r in self.ranges)
        gray_on = self.ranges[1] is not None or self.ranges[2] is not None
        blend_factors = torch.cat([factors[:, :3], torch.ones_like(factors[:, :1])], 1)
        x = imgs
        for k in range(4):
            op = order[:, k].view(n, 1, 1, 1)
            if blend_on:
                f = blend_factors.gather(1, order[:, k:k + 1]).view(n, 1, 1, 1)
                if gray_on:
                    gray = rgb_to_gray(x)
                    ref = torch.where(op == 1, gray.mean((2, 3), keepdim=True), gray)
                    ref = torch.where(op == 0, 0.0, ref)
                    x = torch.lerp(ref, x, f).clamp_(0.0, 1.0)  # lerp is exact at f = 1
                else:
                    x = (x * f).clamp_(0.0, 1.0)
            if self.hue > 0:
                shift = factors[:, 3].view(n, 1, 1, 1)
                on = (op == 3) & (shift != 0)
                x = torch.where(on, adjust_hue(x, torch.where(on, shift, 0.0)), x)
        return x

    def __call__(self, imgs: Tensor) -> Tensor:
        factors, order = self.sample_params(len(imgs), imgs.device)
        return self.apply(imgs, factors, order)


@TRANSFORMS.register_module()
class BatchRandomGrayscale:
    """torchvision ``RandomGrayscale``: with probability ``p`` per sample, the luma
    replicated to 3 channels."""

    def __init__(self, p: float = 0.2) -> None:
        self.p = float(p)

    def __call__(self, imgs: Tensor) -> Tensor:
        _check(imgs, type(self).__name__, rgb=True)
        on = torch.rand(len(imgs), 1, 1, 1, device=imgs.device) < self.p
        return torch.where(on, rgb_to_gray(imgs).expand_as(imgs), imgs)


@TRANSFORMS.register_module()
class BatchHorizontalFlip:
    """torchvision ``RandomHorizontalFlip``: mirror the width axis with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = float(p)

    def __call__(self, imgs: Tensor) -> Tensor:
        _check(imgs, type(self).__name__)
        on = torch.rand(len(imgs), 1, 1, 1, device=imgs.device) < self.p
        return torch.where(on, imgs.flip(3), imgs)
