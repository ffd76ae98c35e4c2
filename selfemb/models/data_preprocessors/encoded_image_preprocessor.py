"""The GPU input path for image files: decode JPEGs and build the views on the device."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.logging import MMLogger
from torch import Tensor

from selfemb.registry import MODELS

from .batch_augments import BatchRandomResizedCrop
from .image_decoders import build_decoder
from .selfsup_preprocessor import SelfSupPreprocessor


@MODELS.register_module()
class EncodedImagePreprocessor(SelfSupPreprocessor):
    """:class:`SelfSupPreprocessor` for batches of encoded images (``LoadImageBytes``).

    In training, ``num_views`` random resized crops of every image are drawn from one
    decode (torchvision ``RandomResizedCrop`` semantics, per-sample boxes from torch's
    generator on the device), resampled to ``crop_size`` and passed through the batched
    ``batch_augments`` (colour jitter, grayscale, flip, blur, ...) in one pass over
    ``num_views * B`` crops. Otherwise (kNN features, tests) each image gives one view:
    its short side resized to ``test_resize`` and the central ``crop_size`` square, i.e.
    the central square of side ``short * crop_size / test_resize`` resampled to
    ``crop_size``. Every list of per-sample ``uint8`` images (1-D JPEG bytes or
    ``3 x H x W``) is taken as whole images to crop, so pair this preprocessor with
    ``LoadImageBytes`` pipelines; other inputs (a CPU pipeline's multi-view lists, batch
    tensors, float images) go to :class:`SelfSupPreprocessor` unchanged.

    Args:
        crop_size: output side of every view.
        crop_scale, crop_ratio: ``RandomResizedCrop`` area fraction and aspect range.
        test_resize: short side before the central crop outside training.
        decoder: ``'dali'``, ``'torchvision'`` or ``'auto'`` (DALI when installed and the
            batch is on a GPU, else torchvision); the choice is logged once.
        dali_threads: DALI's CPU threads.
        **kwargs: :class:`SelfSupPreprocessor` arguments (``mean``, ``std`` on the 0-255
            RGB scale, ``num_views``, ``batch_augments`` without a crop, ...).
    """

    def __init__(self, crop_size: int = 224, crop_scale: Sequence[float] = (0.2, 1.0),
                 crop_ratio: Sequence[float] = (3 / 4, 4 / 3), test_resize: int = 256,
                 decoder: str = 'auto', dali_threads: int = 4, **kwargs) -> None:
        if kwargs.get('to_rgb'):
            raise ValueError('EncodedImagePreprocessor: the decoders give RGB images; '
                             'remove to_rgb=True')
        super().__init__(**kwargs)
        if decoder not in ('auto', 'dali', 'torchvision'):
            raise ValueError("EncodedImagePreprocessor: decoder must be 'auto', 'dali' or "
                             f"'torchvision', got {decoder!r}")
        if test_resize < crop_size:
            raise ValueError(f'EncodedImagePreprocessor: test_resize {test_resize} is smaller '
                             f'than crop_size {crop_size}')
        self.crop = BatchRandomResizedCrop(crop_size, crop_scale, crop_ratio)
        self.crop_size, self.test_resize = int(crop_size), int(test_resize)
        self.decoder_name, self.dali_threads = decoder, dali_threads
        self._decoder = None

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        if not _is_encoded_batch(inputs):
            return super().forward(data, training)
        samples = data.get('data_samples')
        if samples is None or len(samples) != len(inputs):
            raise ValueError('EncodedImagePreprocessor: encoded images need one data sample '
                             'each (with ori_shape and img_path; see LoadImageBytes)')
        heights, widths, paths = _sizes_and_paths(samples)
        device = self.bias.device
        views = self.num_views if training else 1
        boxes = self._boxes(heights, widths, views, training, device)
        crops = self._get_decoder(device).decode_crops(inputs, boxes, self.crop_size, paths,
                                                       device)
        if training:
            for aug in self.batch_augments:
                crops = aug(crops)
        out = list(self._normalise(crops, unit_range=True).chunk(views))
        if self.channels_last:
            out = [v.contiguous(memory_format=torch.channels_last) for v in out]
        return dict(inputs=out, data_samples=self._cast_samples(samples))

    def _boxes(self, heights: List[int], widths: List[int], views: int, training: bool,
               device: torch.device) -> Tensor:
        """``views x B x 4`` crop boxes in pixels of each image."""
        h = torch.tensor(heights, dtype=torch.float32, device=device)
        w = torch.tensor(widths, dtype=torch.float32, device=device)
        if training:
            boxes = self.crop.sample_boxes(views * len(h), h.repeat(views), w.repeat(views),
                                           device)
            return boxes.view(views, len(h), 4)
        side = torch.minimum(h, w) * (self.crop_size / self.test_resize)
        x1, y1 = (w - side) / 2, (h - side) / 2
        return torch.stack([x1, y1, x1 + side, y1 + side], 1)[None]

    def _get_decoder(self, device: torch.device):
        if self._decoder is None:
            kwargs = dict(num_threads=self.dali_threads)
            wants_dali = self.decoder_name == 'dali' or (
                self.decoder_name == 'auto' and device.type == 'cuda')
            self._decoder = build_decoder(self.decoder_name, device,
                                          **(kwargs if wants_dali else {}))
            MMLogger.get_current_instance().info(
                f'EncodedImagePreprocessor: decoding JPEGs with {self._decoder.name} on '
                f'{device}')
        return self._decoder


def _is_encoded_batch(inputs) -> bool:
    """A list of per-sample ``uint8`` images as ``LoadImageBytes`` gives them: 1-D JPEG
    bytes or ``3 x H x W`` decoded images (a CPU pipeline's multi-view lists, batch
    tensors and float images are not)."""
    return isinstance(inputs, (list, tuple)) and len(inputs) > 0 and all(
        isinstance(t, Tensor) and t.dtype == torch.uint8 and t.ndim in (1, 3) for t in inputs)


def _sizes_and_paths(samples) -> Tuple[List[int], List[int], List[str]]:
    heights, widths, paths = [], [], []
    for sample in samples:
        shape: Optional[tuple] = sample.metainfo.get('ori_shape')
        if shape is None:
            raise ValueError('EncodedImagePreprocessor: a data sample has no ori_shape; put '
                             "dict(type='LoadImageBytes') before PackInputs in the pipeline")
        heights.append(int(shape[0]))
        widths.append(int(shape[1]))
        paths.append(sample.metainfo.get('img_path', '<unknown file>'))
    return heights, widths, paths
