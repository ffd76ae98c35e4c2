"""Reading per-sample metadata out of a batch of data samples."""
from typing import Optional, Sequence

import torch


def sample_indices(data_samples: Optional[Sequence], device: torch.device) -> torch.Tensor:
    """The dataset indices (``sample_idx``) of a batch as an int64 tensor on ``device``."""
    if not data_samples:
        raise ValueError('this algorithm needs data samples carrying `sample_idx` '
                         '(a memory is indexed by it); got none')
    try:
        idx = [ds.sample_idx for ds in data_samples]
    except AttributeError as err:
        raise ValueError('data samples lack `sample_idx`: use a selfemb / mmengine dataset '
                         'and keep `sample_idx` in PackInputs meta_keys') from err
    indices = torch.as_tensor(idx, dtype=torch.long)
    if torch.device(device).type == 'cuda':  # pinned, so the copy does not block the host
        indices = indices.pin_memory()
    return indices.to(device, non_blocking=True)
