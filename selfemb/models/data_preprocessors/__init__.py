from .batch_augments import (BatchColorJitter, BatchHorizontalFlip, BatchRandomGrayscale,
                             BatchRandomResizedCrop)
from .selfsup_preprocessor import SelfSupPreprocessor

__all__ = [
    'SelfSupPreprocessor', 'BatchRandomResizedCrop', 'BatchColorJitter',
    'BatchRandomGrayscale', 'BatchHorizontalFlip'
]
