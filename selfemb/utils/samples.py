"""A batch's data samples that carry their dataset indices as one tensor."""
from typing import Iterable, Optional

import torch
from torch import Tensor


class IndexedSamples(list):
    """A batch's data samples (a plain list of them) that also carries their dataset
    indices as one int64 tensor, ``indices`` (``sample_idx`` of every sample, in order).

    The device-resident data path (``device_collate``) builds it with the indices on the
    device, so a training step reads them without a host-to-device copy, and a CUDA-graph
    step copies them into its static batch like the images. Hooks and the kNN monitor
    keep reading the samples themselves. A list built from it (e.g. by a preprocessor's
    ``cast_data``) is a plain list again: :func:`~selfemb.models.utils.sample_indices`
    then reads the samples.
    """

    def __init__(self, samples: Iterable = (), indices: Optional[Tensor] = None) -> None:
        super().__init__(samples)
        if indices is not None and (not isinstance(indices, Tensor) or indices.dtype !=
                                    torch.long or indices.shape != (len(self), )):
            raise ValueError(f'IndexedSamples: indices must be an int64 tensor of shape '
                             f'({len(self)},), got {getattr(indices, "dtype", type(indices))} '
                             f'{tuple(getattr(indices, "shape", ()))}')
        self.indices = indices
