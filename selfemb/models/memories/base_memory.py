"""Memories: dataset-sized state kept in registered buffers (so checkpoints carry it)."""
from typing import Optional

import torch
from mmengine.model import BaseModule


class BaseMemory(BaseModule):
    """A memory whose size is the training set's, known only once the data is built.

    ``MemoryInitHook`` calls :meth:`setup` with ``len(train_dataset)`` before training
    (before a checkpoint is resumed). Loading a checkpoint into an unsized memory (e.g.
    in ``tools/test.py``) adopts the checkpoint's size; loading one of another size into
    a sized memory is an error, never a silent skip.
    """

    def __init__(self, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_samples = 0

    def setup(self, num_samples: int, seed: Optional[int] = None) -> None:
        """Allocate and initialise the state for ``num_samples`` training samples."""
        raise NotImplementedError

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        for name, buf in self._buffers.items():
            key = prefix + name
            if key not in state_dict or buf is None:
                continue
            saved = state_dict[key]
            if saved.shape != buf.shape:
                if self.num_samples and buf.numel() > 0:
                    raise RuntimeError(
                        f'incompatible checkpoint: {key} has shape {tuple(saved.shape)} but '
                        f'this run has {tuple(buf.shape)} (the training set has '
                        f'{self.num_samples} samples); resume with the same dataset')
                self._buffers[name] = torch.empty_like(saved, device=buf.device)
                self.num_samples = int(saved.shape[0]) if saved.dim() else self.num_samples
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
