"""Common base of selfemb's algorithms: backbone -> neck -> head, plus optional memory."""
from typing import Iterator, Optional, Union

import torch
from mmpretrain.models.selfsup import BaseSelfSupervisor
from torch import nn

from selfemb.registry import MODELS

from ..memories import BaseMemory


class EmbeddingAlgorithm(BaseSelfSupervisor):
    """A self-supervised embedding learner built on mmpretrain's ``BaseSelfSupervisor``.

    Subclasses implement ``loss(inputs, data_samples)`` where ``inputs`` is the list of
    view batches produced by the data preprocessor. :meth:`embed` (backbone + neck, the
    L2-normalised embedding) is what the kNN evaluation uses.

    Args:
        backbone, neck, head: Configs of the parts (mmpretrain backbones with their scope,
            e.g. ``dict(type='mmpretrain.ResNet_CIFAR', depth=18)``).
        memory: Optional memory config; sized from the dataset by ``MemoryInitHook``.
        data_preprocessor: Defaults to selfemb's ``SelfSupPreprocessor``; with its
            ``channels_last=True`` the backbone is converted to channels_last too.
    """

    def __init__(self, backbone: dict, neck: Optional[dict] = None, head: Optional[dict] = None,
                 memory: Optional[Union[dict, nn.Module]] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if isinstance(data_preprocessor, dict):
            data_preprocessor.setdefault('type', 'SelfSupPreprocessor')
        super().__init__(backbone=backbone, neck=neck, head=head,
                         data_preprocessor=data_preprocessor or dict(type='SelfSupPreprocessor'),
                         init_cfg=init_cfg)
        if memory is not None and not isinstance(memory, nn.Module):
            memory = MODELS.build(memory)
        self.memory = memory
        if getattr(self.data_preprocessor, 'channels_last', False):
            # inputs arrive channels_last: keep the convolutions in the same layout
            self.backbone.to(memory_format=torch.channels_last)

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """The embedding of a normalised image batch: ``neck(backbone(x))``."""
        feats = self.extract_feat(inputs)
        return self.neck(feats) if self.with_neck else feats[-1].flatten(1)

    def memories(self) -> Iterator[BaseMemory]:
        """Every dataset-sized memory inside this model."""
        return (m for m in self.modules() if isinstance(m, BaseMemory))
