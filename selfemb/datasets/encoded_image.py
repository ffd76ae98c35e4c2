"""Read image files as encoded bytes, for decoding on the GPU (the ImageNet GPU input path)."""
import io
from typing import Optional

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine import fileio
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.io import ImageReadMode, decode_image

from selfemb.registry import TRANSFORMS

EXIF_ORIENTATION = 0x0112


@TRANSFORMS.register_module()
class LoadImageBytes(BaseTransform):
    """Give the pipeline an image file's JPEG bytes, undecoded, or the decoded image.

    A worker only reads the file and its header (size, mode), which costs microseconds,
    so a few workers feed a GPU that decodes and augments the batch
    (:class:`~selfemb.models.data_preprocessors.EncodedImagePreprocessor`). ``img`` is:

    - the file's bytes as a 1-D ``uint8`` tensor for a JPEG in RGB (YCbCr) or grayscale
      without an EXIF rotation (almost every ImageNet image);
    - otherwise the image decoded here to a ``3 x H x W`` RGB ``uint8`` tensor: PNG and other
      formats, CMYK JPEGs, and JPEGs with an EXIF orientation (applied, as OpenCV does
      in ``LoadImageFromFile``), so the GPU decoders meet only the JPEGs they handle.

    ``ori_shape`` / ``img_shape`` are the upright ``(H, W)``. A file that is not an
    image raises an error naming it (the dataset reports it as a ``SampleLoadError``).

    Args:
        backend_args: mmengine file backend arguments (e.g. for object storage).
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        data = fileio.get(path, backend_args=self.backend_args)
        try:
            with Image.open(io.BytesIO(data)) as image:
                fmt, mode = image.format, image.mode
                width, height = image.size
                rotated = image.getexif().get(EXIF_ORIENTATION, 1) != 1
                if rotated:
                    upright = ImageOps.exif_transpose(image).convert('RGB')
        except (UnidentifiedImageError, OSError, SyntaxError) as error:
            raise ValueError(f'{path} is not a readable image ({len(data)} bytes): '
                             f'{error}') from error
        encoded = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        if rotated:
            img = torch.from_numpy(np.ascontiguousarray(np.asarray(upright).transpose(2, 0, 1)))
        elif fmt == 'JPEG' and mode in ('RGB', 'L'):
            img = encoded
        else:
            try:
                img = decode_image(encoded, mode=ImageReadMode.RGB)
            except RuntimeError as error:
                raise ValueError(f'{path}: cannot decode this {fmt} image ({mode}): '
                                 f'{error}') from error
        results['img'] = img
        if img.ndim == 3:
            height, width = img.shape[1:]
        results['img_shape'] = results['ori_shape'] = (int(height), int(width))
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(backend_args={self.backend_args})'

