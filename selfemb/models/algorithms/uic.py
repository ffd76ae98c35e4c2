"""UIC: Unsupervised Image Classification for Deep Representation Learning.

Chen, Pu, Xie, Yang, Guo, Lin, ECCVW 2020. A classifier ``f'`` (backbone, optional
neck / MLP, linear layer to K pseudo classes) is trained with cross-entropy against
pseudo labels, as in supervised training (eq. 6). The pseudo label of a sample for
epoch t is the classifier's argmax on an augmented view from epoch t-1 (eq. 5): the
training forward pass of epoch t-1 is reused, so there is no extra forward pass and no
stored embedding, only an ``N``-long label buffer (:class:`PseudoLabelMemory`).
``UICLabelHook`` turns the predictions into the next labels (splitting the largest
class into empty ones) and feeds ``ClassBalancedSampler``.
"""
import copy
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from selfemb.registry import MODELS

from ..memories import PseudoLabelMemory
from ..utils import SobelFilter, sample_indices
from .base import EmbeddingAlgorithm


@MODELS.register_module()
class UIC(EmbeddingAlgorithm):
    """Unsupervised image classification (``head``: UICHead, memory: PseudoLabelMemory).

    Args:
        num_classes: K pseudo classes (3000 for ImageNet); set into the head and the
            memory, so it is configured once. It must not exceed the training set size.
        backbone, neck, head: as :class:`EmbeddingAlgorithm`; ``neck`` is the optional
            MLP between the backbone and the head (give it ``norm=False``).
        memory: defaults to ``dict(type='PseudoLabelMemory')``.
        sobel: put the fixed gray -> Sobel-x / Sobel-y filter
            (:class:`~selfemb.models.utils.SobelFilter`) in front of the backbone, whose
            first layer then takes 2 channels (DeepCluster / UIC AlexNet).
    """

    graph_blocker = None

    def __init__(self, num_classes: int, backbone: dict, head: dict, neck: Optional[dict] = None,
                 memory: Optional[dict] = None, sobel: bool = False,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if num_classes < 1:
            raise ValueError(f'UIC num_classes must be >= 1, got {num_classes}')
        head, memory = copy.deepcopy(head), copy.deepcopy(memory or dict(type='PseudoLabelMemory'))
        for name, cfg in (('head', head), ('memory', memory)):
            if cfg.get('num_classes', num_classes) != num_classes:
                raise ValueError(f"UIC num_classes={num_classes} but its {name} has "
                                 f"num_classes={cfg['num_classes']}; set it once, on UIC")
            cfg['num_classes'] = num_classes
        super().__init__(backbone=backbone, neck=neck, head=head, memory=memory,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not isinstance(self.memory, PseudoLabelMemory):
            raise TypeError(f'UIC needs a PseudoLabelMemory, got {type(self.memory).__name__}')
        self.num_classes = num_classes
        self.sobel = SobelFilter() if sobel else None

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(self.sobel(inputs) if self.sobel is not None else inputs)

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """``B x K`` classifier outputs of a normalised image batch."""
        feats = self.extract_feat(inputs)
        return self.head(self.neck(feats) if self.with_neck else feats)

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """The L2-normalised input of the classifier ``W`` (kNN monitor)."""
        feats = self.extract_feat(inputs)
        return F.normalize(self.head.features(self.neck(feats) if self.with_neck else feats),
                           dim=1)

    def loss(self, inputs: List[torch.Tensor],
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        indices = sample_indices(data_samples, inputs[0].device)
        logits = self.logits(inputs[0])
        loss = self.head.loss(logits, self.memory.targets(indices))
        self.memory.record(indices, logits.detach().argmax(dim=1))  # labels of next epoch
        return dict(loss=loss)
