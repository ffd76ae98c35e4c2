"""The instance family's training step, shared by ISIF, NPID, AND and Super-AND."""
from typing import Dict, List, Optional

import torch

from ..heads import InstanceHead
from ..memories import SimpleMemory
from ..utils import sample_indices
from .base import EmbeddingAlgorithm


class InstanceAlgorithm(EmbeddingAlgorithm):
    """Embed ``num_views`` views in one forward, hand the head an ``InstanceBatch``, queue
    the bank update.

    One step: check the views; flush the memory's pending update and read the bank
    (:meth:`~EmbeddingAlgorithm.instance_batch`); embed the ``V`` views concatenated
    (``[x_1..x_B, x̂_1..x̂_B]``, one BatchNorm batch, as the official ISIF / Super-AND
    code); ``head.loss(batch)``; queue ``m_i <- normalise(μ m_i + (1-μ) v_i)`` with view 1's
    embedding when the memory is a bank. Methods differ only in their defaults (views,
    memory, head), so any instance-family head runs in any of them.

    Args:
        num_views: Views embedded per image (the class's ``default_views`` if ``None``);
            at least the head's ``num_views``.
        Others: as :class:`EmbeddingAlgorithm`.
    """

    default_views = 1
    #: capturable; a head that reads indices, or a memory, needs batches that carry them
    #: (``device_collate``); Super-AND's UE weight is device state (``SuperANDHead``)
    graph_blocker = None

    def __init__(self, *args, num_views: Optional[int] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.num_views = num_views or self.default_views
        name = type(self).__name__
        if not isinstance(self.head, InstanceHead):
            raise TypeError(f'{name} needs an instance-family head (an InstanceHead: '
                            f'InstanceSpreadHead, NPIDHead, ANDHead, SuperANDHead ...), got '
                            f'{type(self.head).__name__}')
        if self.head.num_views > self.num_views:
            raise ValueError(f'{type(self.head).__name__} reads {self.head.num_views} views but '
                             f'{name} embeds {self.num_views}: set model.num_views='
                             f'{self.head.num_views} and num_views={self.head.num_views} in '
                             'the pipeline / data preprocessor')

    def loss(self, inputs: List[torch.Tensor],
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        views = self.views(inputs, self.num_views)
        # a bank is indexed by the samples; without one, indices are passed when the head
        # reads them and the samples carry them
        needs_indices = isinstance(self.memory, SimpleMemory) or (
            self.head.reads_indices and data_samples
            and all(hasattr(s, 'sample_idx') for s in data_samples))
        indices = sample_indices(data_samples, views[0].device) if needs_indices else None
        batch = self.instance_batch(views, indices)  # flushes the previous step's update
        batch.views = list(self.embed(torch.cat(views)).split(views[0].size(0)))
        losses = self.head.loss(batch)
        if isinstance(self.memory, SimpleMemory):
            self.memory.update(indices, batch.views[0].detach())
        return losses
