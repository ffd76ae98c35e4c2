"""Reading per-sample metadata out of a batch of data samples."""
from typing import Optional, Sequence

import torch
from torch import Tensor

from selfemb.utils.samples import IndexedSamples

__all__ = ['IndexedSamples', 'sample_indices']


def sample_indices(data_samples: Optional[Sequence], device: torch.device) -> torch.Tensor:
    """The dataset indices (``sample_idx``) of a batch as an int64 tensor on ``device``:
    the :class:`IndexedSamples` tensor when the batch carries one, else built from the
    samples' ``sample_idx`` and copied to ``device``."""
    if not data_samples:
        raise ValueError('this algorithm needs data samples carrying `sample_idx` '
                         '(a memory is indexed by it); got none')
    carried = getattr(data_samples, 'indices', None)
    if isinstance(carried, Tensor):
        return carried.to(device, non_blocking=True)
    try:
        idx = [ds.sample_idx for ds in data_samples]
    except AttributeError as err:
        raise ValueError('data samples lack `sample_idx`: use a selfemb / mmengine dataset '
                         'and keep `sample_idx` in PackInputs meta_keys') from err
    if torch.device(device).type == 'cuda' and torch.cuda.is_current_stream_capturing():
        raise RuntimeError('a CUDA graph cannot hold the host copy of the batch\'s '
                           'sample_idx (a replay would reuse the captured batch\'s): use a '
                           "device-resident source with collate_fn=dict(type="
                           "'selfemb.device_collate'), whose batches carry their indices")
    indices = torch.as_tensor(idx, dtype=torch.long)
    if torch.device(device).type == 'cuda':  # pinned, so the copy does not block the host
        indices = indices.pin_memory()
    return indices.to(device, non_blocking=True)
