from .batch_augments import (
    BatchColorJitter,
    BatchHorizontalFlip,
    BatchRandomGrayscale,
    BatchRandomResizedCrop,
)
from .batch_blur_erase import BatchGaussianBlur, BatchRandomErasing
from .selfsup_preprocessor import SelfSupPreprocessor

__all__ = [
    'SelfSupPreprocessor', 'BatchRandomResizedCrop', 'BatchColorJitter',
    'BatchRandomGrayscale', 'BatchHorizontalFlip', 'BatchGaussianBlur', 'BatchRandomErasing'
]
