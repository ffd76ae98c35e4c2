"""Decode a batch of JPEG files and resample crop boxes of them, on the GPU.

Two interchangeable backends share one contract, :meth:`decode_crops`: given the
per-sample images (1-D ``uint8`` JPEG bytes, or ``3 x H x W`` ``uint8`` images a worker
already decoded) and ``K x B x 4`` boxes ``(x1, y1, x2, y2)`` in pixels of each image
(``x2``/``y2`` exclusive), return ``K * B x 3 x S x S`` float crops in ``[0, 1]``, crop
``k`` of every sample first (``K`` crops per image from one decode: the two views).

- :class:`TorchvisionDecoder` (no extra dependency): ``torchvision.io.decode_jpeg`` on
  the GPU (nvJPEG, one batched call), then one ``roi_align`` per image for its ``K``
  boxes (bilinear, averaging the samples inside each output pixel: antialiased like the
  CPU pipeline's resize of a crop).
- :class:`DALIDecoder` (``pip install -e .[dali]``): NVIDIA DALI decodes (nvJPEG, with
  the hardware JPEG decoder where the GPU has one) and resizes each box (linear,
  antialiased) in one pipeline; on a machine without a GPU it runs DALI's CPU backend.

A JPEG the GPU decoder rejects is decoded on the CPU (one warning naming the file); one
that the CPU cannot decode either raises :class:`~selfemb.utils.errors.SampleLoadError`
naming its path. Nothing is skipped silently.
"""
import warnings
from typing import List, Optional, Sequence

import torch
from torch import Tensor
from torchvision.io import ImageReadMode, decode_jpeg
from torchvision.ops import roi_align

from selfemb.utils.errors import SampleLoadError


def _split(images: Sequence[Tensor]) -> tuple:
    """Positions of the encoded (1-D) and of the already decoded (3-D) images."""
    encoded, decoded = [], []
    for i, img in enumerate(images):
        if img.dtype != torch.uint8 or img.ndim not in (1, 3):
            raise TypeError('decode_crops: each image must be 1-D uint8 JPEG bytes or a '
                            f'3 x H x W uint8 image, got {img.dtype} {tuple(img.shape)}')
        (encoded if img.ndim == 1 else decoded).append(i)
    return encoded, decoded


def cpu_decode(data: Tensor, path: str) -> Tensor:
    """One JPEG decoded on the CPU to ``3 x H x W`` RGB, or an error naming ``path``."""
    try:
        return decode_jpeg(data.cpu(), mode=ImageReadMode.RGB)
    except RuntimeError as error:
        raise SampleLoadError(f'cannot decode the image {path}: '
                              f'{str(error).splitlines()[-1]}') from error


def crop_resize(images: Sequence[Tensor], boxes: Tensor, size: int, out: Tensor,
                positions: Sequence[int]) -> None:
    """Write the ``K`` crops of ``images[j]`` (boxes ``boxes[:, positions[j]]``) into
    ``out[:, positions[j]]`` (``K x B x 3 x S x S``), bilinear with ``roi_align``."""
    for img, b in zip(images, positions):
        rois = torch.cat([torch.zeros_like(boxes[:, b, :1]), boxes[:, b]], 1)
        out[:, b] = roi_align(img[None].to(out.device, torch.float32), rois.to(out.device),
                              size, spatial_scale=1.0, sampling_ratio=-1, aligned=True)


class TorchvisionDecoder:
    """Batched nvJPEG decoding with ``torchvision.io.decode_jpeg``; crops by ``roi_align``."""

    name = 'torchvision'

    def __init__(self) -> None:
        self._warned = False

    def decode(self, data: List[Tensor], paths: Sequence[str], device: torch.device
               ) -> List[Tensor]:
        """Decode JPEG bytes to ``3 x H x W`` uint8 images on ``device``."""
        if device.type == 'cuda':
            try:
                return decode_jpeg(data, mode=ImageReadMode.RGB, device=device)
            except RuntimeError:
                return [self._decode_one(d, p, device) for d, p in zip(data, paths)]
        return [cpu_decode(d, p) for d, p in zip(data, paths)]

    def _decode_one(self, data: Tensor, path: str, device: torch.device) -> Tensor:
        try:
            return decode_jpeg(data, mode=ImageReadMode.RGB, device=device)
        except RuntimeError as error:
            image = cpu_decode(data, path).to(device)  # raises if the file is broken
            if not self._warned:
                warnings.warn(f'the GPU JPEG decoder rejected {path} ({error}); such images '
                              'are decoded on the CPU')
                self._warned = True
            return image

    def decode_crops(self, images: Sequence[Tensor], boxes: Tensor, size: int,
                     paths: Sequence[str], device: torch.device) -> Tensor:
        views, batch = boxes.shape[:2]
        out = torch.empty(views, batch, 3, size, size, device=device)
        encoded, decoded = _split(images)
        if encoded:
            crop_resize(self.decode([images[i] for i in encoded],
                                    [paths[i] for i in encoded], device),
                        boxes, size, out, encoded)
        crop_resize([images[i] for i in decoded], boxes, size, out, decoded)
        return out.div_(255.0).flatten(0, 1)


class DALIDecoder(TorchvisionDecoder):
    """NVIDIA DALI: decode once, resize ``K`` boxes per image, in one pipeline.

    Boxes come from torch's generator (so the views are reproducible and restored on
    ``--resume`` like every other augmentation) and enter the pipeline as per-sample
    ROIs of ``fn.resize``. Images a worker already decoded are cropped with ``roi_align``.

    Args:
        num_threads: DALI CPU threads (parsing, and decoding on the CPU backend).
        hw_decoder_load: share of the images sent to the hardware JPEG decoder.
    """

    name = 'dali'

    def __init__(self, num_threads: int = 4, hw_decoder_load: float = 0.65) -> None:
        super().__init__()
        try:
            import nvidia.dali  # noqa: F401
        except ImportError as error:
            raise ImportError("decoder='dali' needs NVIDIA DALI: pip install -e '.[dali]' "
                              "(or decoder='torchvision', which needs nothing extra)"
                              ) from error
        self.num_threads, self.hw_decoder_load = num_threads, hw_decoder_load
        self._pipe, self._key = None, None

    def _pipeline(self, batch: int, views: int, size: int, device: torch.device):
        from nvidia.dali import fn, pipeline_def, types
        gpu = device.type == 'cuda'
        key = (views, size, device)
        if self._pipe is not None and self._key == key and self._pipe.max_batch_size >= batch:
            return self._pipe

        @pipeline_def(batch_size=batch, num_threads=self.num_threads,
                      device_id=(device.index or 0) if gpu else None, exec_async=False,
                      exec_pipelined=False, prefetch_queue_depth=1)
        def pipeline():
            data = fn.external_source(name='data', dtype=types.UINT8, ndim=1)
            extra = dict(hw_decoder_load=self.hw_decoder_load) if gpu else {}
            image = fn.decoders.image(data, device='mixed' if gpu else 'cpu',
                                      output_type=types.RGB, adjust_orientation=False, **extra)
            crops = []
            for k in range(views):
                start = fn.external_source(name=f'start{k}', dtype=types.FLOAT, ndim=1)
                end = fn.external_source(name=f'end{k}', dtype=types.FLOAT, ndim=1)
                crops.append(fn.resize(image, size=[size, size], roi_start=start,
                                       roi_end=end, roi_relative=False, antialias=True,
                                       interp_type=types.INTERP_LINEAR,
                                       dtype=types.FLOAT))
            return tuple(crops)

        self._pipe, self._key = pipeline(), key
        self._pipe.build()
        return self._pipe

    def _run(self, data: List[Tensor], boxes: Tensor, size: int, device: torch.device
             ) -> List[Tensor]:
        views = boxes.shape[0]
        pipe = self._pipeline(len(data), views, size, device)
        pipe.feed_input('data', [d.numpy() for d in data])
        # DALI orders ROI coordinates like the HWC tensor: (y, x)
        starts = boxes[..., [1, 0]].cpu().numpy()
        ends = boxes[..., [3, 2]].cpu().numpy()
        for k in range(views):
            pipe.feed_input(f'start{k}', list(starts[k]))
            pipe.feed_input(f'end{k}', list(ends[k]))
        outputs = pipe.run()
        crops = []
        for out in outputs:
            if device.type == 'cuda':
                from nvidia.dali.plugin.pytorch import feed_ndarray
                dense = out.as_tensor()
                crop = torch.empty(dense.shape(), dtype=torch.float32, device=device)
                feed_ndarray(dense, crop, cuda_stream=torch.cuda.current_stream(device))
            else:
                crop = torch.from_numpy(out.as_array())
            crops.append(crop.permute(0, 3, 1, 2))
        return crops

    def decode_crops(self, images: Sequence[Tensor], boxes: Tensor, size: int,
                     paths: Sequence[str], device: torch.device) -> Tensor:
        views, batch = boxes.shape[:2]
        encoded, decoded = _split(images)
        out = torch.empty(views, batch, 3, size, size, device=device)
        if encoded:
            index = torch.tensor(encoded, device=device)
            try:
                crops = self._run([images[i].cpu() for i in encoded], boxes[:, encoded],
                                  size, device)
                for k, crop in enumerate(crops):
                    out[k].index_copy_(0, index, crop.clamp_(0.0, 255.0))
            except RuntimeError:  # find the file: torchvision names it or decodes it
                images_on_device = super().decode([images[i] for i in encoded],
                                             [paths[i] for i in encoded], device)
                crop_resize(images_on_device, boxes, size, out, encoded)
        crop_resize([images[i] for i in decoded], boxes, size, out, decoded)
        return out.div_(255.0).flatten(0, 1)


def build_decoder(name: str, device: Optional[torch.device] = None, **kwargs):
    """``'dali'``, ``'torchvision'`` or ``'auto'`` (DALI when installed and on a GPU)."""
    if name == 'auto':
        try:
            import nvidia.dali  # noqa: F401
            have_dali = True
        except ImportError:
            have_dali = False
        name = 'dali' if have_dali and device is not None and device.type == 'cuda' \
            else 'torchvision'
    if name == 'dali':
        return DALIDecoder(**kwargs)
    if name == 'torchvision':
        return TorchvisionDecoder()
    raise ValueError(f"decoder must be 'auto', 'dali' or 'torchvision', got {name!r}")
