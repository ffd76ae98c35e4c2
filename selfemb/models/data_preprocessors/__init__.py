from .batch_augments import (
    BatchColorJitter,
    BatchHorizontalFlip,
    BatchRandomGrayscale,
    BatchRandomResizedCrop,
)
from .batch_blur_erase import BatchGaussianBlur, BatchRandomErasing
from .encoded_image_preprocessor import EncodedImagePreprocessor
from .selfsup_preprocessor import SelfSupPreprocessor

__all__ = [
    'SelfSupPreprocessor', 'EncodedImagePreprocessor', 'BatchRandomResizedCrop', 'BatchColorJitter',
    'BatchRandomGrayscale', 'BatchHorizontalFlip', 'BatchGaussianBlur', 'BatchRandomErasing'
]
