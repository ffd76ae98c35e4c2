"""Faster R-CNN C4 shared head with one extra normalisation layer after res5.

MoCo's detectron2 transfer (``Res5ROIHeadsExtraNorm``) and mmselfsup's
``ResLayerExtraNorm`` append a norm layer (SyncBN in the benchmark config) to the res5
``ResLayer`` of the C4 RoI head: out = Norm(res5(x)). The norm is not part of a
pre-trained ResNet, so it starts fresh (weight 1, bias 0, running mean 0 / var 1) while
``layer4`` is loaded from the checkpoint: a ``Pretrained`` ``init_cfg`` (prefix P) is
handed to ``layer4`` with prefix ``P + 'layer4.'``, so loading reports no missing keys for
the norm, which is deliberately not loaded. Needs mmdet (the ``transfer`` extra); configs
load it with ``custom_imports=dict(imports=['selfemb.transfer.res_layer_extra_norm'])``
and use ``type='selfemb.ResLayerExtraNorm'``.
"""
import torch
from mmcv.cnn import build_norm_layer
from mmdet.models.backbones import ResNet
from mmdet.models.roi_heads.shared_heads import ResLayer

from selfemb.registry import MODELS


@MODELS.register_module()
class ResLayerExtraNorm(ResLayer):
    """mmdet's ``ResLayer`` (res5 of a ResNet of ``depth``) followed by ``norm``, a norm
    layer of ``norm_cfg`` over its 64 * 2**stage * expansion output channels."""

    def __init__(self, depth: int, stage: int = 3, **kwargs) -> None:
        super().__init__(depth, stage=stage, **kwargs)
        channels = 64 * 2**stage * ResNet.arch_settings[depth][0].expansion
        self.add_module('norm', build_norm_layer(self.norm_cfg, channels)[1])
        init = self.init_cfg
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            layer = getattr(self, f'layer{stage + 1}')
            layer.init_cfg = dict(init, prefix=(init.get('prefix') or '') + f'layer{stage + 1}.')
            self.init_cfg = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(getattr(self, f'layer{self.stage + 1}')(x))
