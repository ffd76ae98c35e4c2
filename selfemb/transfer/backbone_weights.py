"""Backbone-only weights of a selfemb checkpoint, for mmdet / mmseg / mmpretrain.

The converted file is ``{'state_dict': {'backbone.<key>': tensor}, 'meta': {...}}`` with
tensors only (loads with ``torch.load(weights_only=True)``). Downstream configs load it with
``init_cfg=dict(type='Pretrained', checkpoint=FILE, prefix='backbone.')``: mmengine keeps
the keys under the prefix, strips it and loads non-strictly, so an mmdet C4 backbone
(stem + layer1-3) and its shared head ``ResLayerExtraNorm`` (``layer4``) each find all their
weights; the shared head's extra norm after res5 (``norm.*``) is in no backbone checkpoint
and starts fresh (reported as a note, not as missing).
mmdet, mmseg and mmpretrain ResNets share one key layout (``conv1``, ``bn1``,
``layer{i}.{j}.conv{k}`` / ``bn{k}`` / ``downsample``), so one file serves all three;
:func:`check_loading` builds the target's modules and lists missing, unexpected and
wrongly shaped keys. ``target_depth`` checks against the downstream config's ResNet
(the shipped mmdet / mmseg configs are ResNet-50) instead of the checkpoint's own depth.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

DEPTHS = {((2, 2, 2, 2), False): 18, ((3, 4, 6, 3), False): 34, ((3, 4, 6, 3), True): 50,
          ((3, 4, 23, 3), True): 101, ((3, 8, 36, 3), True): 152}
TARGETS = ('mmdet', 'mmseg', 'mmpretrain')


def backbone_state_dict(state: Dict[str, torch.Tensor]) -> Tuple['OrderedDict', str]:
    """The backbone's weights (keys without ``backbone.``) and a note on where they came
    from. A two-trunk SobelResNet gives its RGB trunk (``backbone.trunk.``)."""
    state = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                        for k, v in state.items())
    if any(k.startswith('backbone.trunk.') for k in state):
        prefix = 'backbone.trunk.'
        note = ('two-trunk SobelResNet: the RGB trunk (backbone.trunk.*) is exported; the '
                'Sobel trunk (backbone.sobel_trunk.*) is dropped')
    else:
        prefix, note = 'backbone.', 'backbone.* weights'
    out = OrderedDict((k[len(prefix):], v) for k, v in state.items()
                      if k.startswith(prefix) and isinstance(v, torch.Tensor))
    if not out:
        heads = sorted({k.split('.')[0] for k in state})
        raise KeyError(f'no "backbone." weights in the checkpoint (its top-level keys: '
                       f'{heads[:12]}); give a selfemb training checkpoint')
    return out, note


def infer_resnet(state: Dict[str, torch.Tensor]) -> dict:
    """``dict(depth, cifar)`` of a ResNet state dict (blocks per stage, bottleneck or not,
    and the stem: ResNet_CIFAR has a 3x3 ``conv1`` and no max pool)."""
    blocks = []
    for stage in range(1, 5):
        ids = {int(m.group(1)) for k in state for m in [re.match(rf'layer{stage}\.(\d+)\.', k)]
               if m}
        blocks.append(len(ids))
    key = (tuple(blocks), 'layer1.0.conv3.weight' in state)
    if 'conv1.weight' not in state or key not in DEPTHS:
        raise ValueError(f'the backbone weights are not a ResNet-18/34/50/101/152 (blocks per '
                         f'stage {blocks}, stem conv1 present: {"conv1.weight" in state})')
    return dict(depth=DEPTHS[key], cifar=state['conv1.weight'].shape[-1] == 3)


def target_modules(target: str, depth: int, cifar: bool = False) -> Dict[str, nn.Module]:
    """The modules a downstream config initialises from the converted file."""
    if target == 'mmdet':  # Faster R-CNN C4: 3-stage backbone + res5 shared head
        from mmdet.models.backbones import ResNet

        from selfemb.transfer.res_layer_extra_norm import ResLayerExtraNorm
        return dict(backbone=ResNet(depth, num_stages=3, strides=(1, 2, 2),
                                    dilations=(1, 1, 1), out_indices=(2, )),
                    shared_head=ResLayerExtraNorm(depth, stage=3, stride=2))
    if target == 'mmseg':  # FCN-D8 on a plain (not V1c) ResNet
        from mmseg.models.backbones import ResNet
        return dict(backbone=ResNet(depth, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)))
    if target == 'mmpretrain':
        from mmpretrain.models.backbones import ResNet, ResNet_CIFAR
        return dict(backbone=(ResNet_CIFAR if cifar else ResNet)(depth))
    raise ValueError(f'unknown target {target!r}; choose from {TARGETS}')


def check_loading(state: Dict[str, torch.Tensor],
                  modules: Dict[str, nn.Module]) -> Dict[str, List[str]]:
    """Keys each module lacks (``missing``, as ``module:key``), keys no module uses
    (``unexpected``) and keys whose shapes differ (``mismatched``)."""
    missing, mismatched, used = [], [], set()
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            if key not in state:
                missing.append(f'{name}:{key}')
            elif tuple(state[key].shape) != tuple(value.shape):
                mismatched.append(f'{name}:{key} {tuple(state[key].shape)} vs '
                                  f'{tuple(value.shape)}')
            used.add(key)
    return dict(missing=missing, unexpected=[k for k in state if k not in used],
                mismatched=mismatched)


def convert_checkpoint(checkpoint: dict, target: str = 'mmdet',
                       target_depth: Optional[int] = None) -> Tuple[dict, dict, List[str]]:
    """``(converted file, report, notes)`` for a loaded selfemb checkpoint: ``report`` is
    :func:`check_loading` against ``target`` built with ``target_depth`` (default: the
    checkpoint's own depth), so e.g. a ResNet-18 checkpoint checked against depth 50 is
    reported as missing / mismatched keys. A CIFAR stem's expected ``conv1`` mismatch
    with mmdet / mmseg is moved from ``mismatched`` into ``notes``, and so is the mmdet
    shared head's extra norm, which no backbone checkpoint holds."""
    if not isinstance(checkpoint, dict):
        raise ValueError(f'the checkpoint holds a {type(checkpoint).__name__}, not a dict of '
                         'tensors or a dict with "state_dict"; give a selfemb training checkpoint')
    state, note = backbone_state_dict(checkpoint.get('state_dict', checkpoint))
    arch = infer_resnet(state)
    depth = arch['depth'] if target_depth is None else int(target_depth)
    if depth not in DEPTHS.values():
        raise ValueError(f'target_depth must be one of {sorted(set(DEPTHS.values()))}, '
                         f'got {target_depth}')
    notes = [note, f"ResNet-{arch['depth']}" + (' (CIFAR stem)' if arch['cifar'] else '')
             + f'; checked against a {target} ResNet-{depth}']
    report = check_loading(state, target_modules(target, depth, arch['cifar']))
    extra = [m for m in report['missing'] if m.startswith('shared_head:norm.')]
    if extra:
        report['missing'] = [m for m in report['missing'] if m not in extra]
        notes.append('the shared head\'s extra norm after res5 (shared_head norm.*, as '
                     'mmselfsup ResLayerExtraNorm / MoCo Res5ROIHeadsExtraNorm) is not in the '
                     'checkpoint: it starts fresh (weight 1, bias 0)')
    if arch['cifar'] and target != 'mmpretrain':
        stem = [m for m in report['mismatched'] if m.split(' ')[0].endswith(':conv1.weight')]
        report['mismatched'] = [m for m in report['mismatched'] if m not in stem]
        if stem:
            notes.append('WARNING: CIFAR ResNet (ResNet_CIFAR) has a 3x3 stride-1 stem conv1 '
                         'and no max pool; a detection / segmentation ResNet has a 7x7 stride-2 '
                         f'stem, so conv1 ({stem[0]}) stays randomly initialised there and the '
                         'other stages see 4x coarser inputs than in pre-training')
    meta = dict(notes=notes, depth=arch['depth'], cifar=arch['cifar'], target=target,
                target_depth=depth)
    out = dict(state_dict=OrderedDict(  # plain tensors only (weights_only loads them)
        (f'backbone.{k}', v.detach().cpu().clone().as_subclass(torch.Tensor))
        for k, v in state.items()), meta=meta)
    return out, report, notes
