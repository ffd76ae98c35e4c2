"""UIC's per-sample pseudo labels and the predictions gathered for the next epoch."""
from typing import Optional

import torch

from selfemb.registry import MODELS

from ..utils import all_gather_cat
from ..utils.pseudo_labels import check_labels, random_labels
from .base_memory import BaseMemory
from .simple_memory import first_sources


@MODELS.register_module()
class PseudoLabelMemory(BaseMemory):
    """The label buffer of UIC (Chen et al., ECCVW 2020), sized from ``len(dataset)``.

    Registered buffers (checkpoints carry them, ``--resume`` restores them):

    * ``labels`` ``N`` int64: the pseudo labels trained on in epoch ``label_epoch``.
    * ``predictions`` ``N`` int64: the argmax of the classifier on the augmented view
      of each sample seen so far in that epoch (``-1``: not drawn yet). They become the
      labels of the next epoch (``UICLabelHook``); no extra forward pass.
    * ``label_epoch`` 0-d int64: the epoch ``labels`` belong to.

    :meth:`record` all-gathers the batch's ``(index, prediction)`` pairs from every rank
    and writes them into every rank's replica, so all ranks hold identical buffers
    without broadcasting. Within one gathered batch the first occurrence of an index
    wins (rank order); a later batch overwrites an earlier one. Static shapes, no host
    synchronisation.

    Args:
        num_classes: K, the number of pseudo classes (set by the ``UIC`` algorithm).
    """

    def __init__(self, num_classes: int = 0, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 0:
            raise ValueError(f'PseudoLabelMemory num_classes must be >= 1, got {num_classes}')
        self.num_classes = num_classes
        self.register_buffer('labels', torch.zeros(0, dtype=torch.long))
        self.register_buffer('predictions', torch.zeros(0, dtype=torch.long))
        self.register_buffer('label_epoch', torch.tensor(0, dtype=torch.long))

    def setup(self, num_samples: int, seed: Optional[int] = None) -> None:
        """Epoch-0 labels: :func:`~selfemb.models.utils.pseudo_labels.random_labels`
        (uniform with ``seed``, empty classes split); no predictions yet. Give every rank
        the same ``seed`` (``MemoryInitHook`` broadcasts rank 0's)."""
        if self.num_classes < 1:
            raise ValueError('PseudoLabelMemory.num_classes is not set (the UIC algorithm '
                             'sets it from its num_classes)')
        device = self.labels.device
        self.labels = random_labels(num_samples, self.num_classes, seed).to(device)
        self.predictions = torch.full((num_samples, ), -1, dtype=torch.long, device=device)
        self.label_epoch = torch.tensor(0, dtype=torch.long, device=device)
        self.num_samples = num_samples

    def _check_ready(self) -> None:
        if self.labels.numel() == 0:
            raise RuntimeError('PseudoLabelMemory is not set up: add MemoryInitHook to '
                               'default_hooks so the labels are sized from the dataset')

    def targets(self, indices: torch.Tensor) -> torch.Tensor:
        """The current pseudo labels of a batch of samples."""
        self._check_ready()
        return self.labels[indices]

    @torch.no_grad()
    def record(self, indices: torch.Tensor, predictions: torch.Tensor) -> None:
        """Store the (all-gathered) argmax predictions of a batch for the next epoch."""
        self._check_ready()
        indices = all_gather_cat(indices)
        predictions = all_gather_cat(predictions.to(self.predictions.dtype))
        source, _ = first_sources(indices)
        self.predictions[indices] = predictions[source]  # duplicates write the same value

    @torch.no_grad()
    def set_labels(self, labels: torch.Tensor, epoch: int) -> None:
        """Install the labels of ``epoch`` and forget the recorded predictions."""
        self._check_ready()
        if labels.shape != self.labels.shape:
            raise ValueError(f'expected {tuple(self.labels.shape)} labels, '
                             f'got {tuple(labels.shape)}')
        check_labels(labels, self.num_classes)
        self.labels.copy_(labels)
        self.predictions.fill_(-1)
        self.label_epoch.fill_(epoch)
