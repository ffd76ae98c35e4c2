"""extract_backbone_weights: selfemb checkpoints load into mmdet's Faster R-CNN C4
(backbone + res5 shared head), mmseg's FCN and mmpretrain's ResNet with zero missing keys."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from selfemb.apis import build_model_from_cfg
from selfemb.transfer.downstream import prepare_benchmark_cfg
from selfemb.utils.checkpoint import encode_checkpoint
from tests.tool_loader import load_tool

ROOT = Path(__file__).resolve().parents[2]
DET_CFG = ROOT / 'configs/benchmarks/mmdetection/voc0712/faster-rcnn_r50-c4_24k_voc0712.py'
SEG_CFG = ROOT / 'configs/benchmarks/mmsegmentation/voc12aug/fcn_r50-d8_20k_voc12aug.py'
tool = load_tool('tools/model_converters/extract_backbone_weights.py', 'extract_backbone_weights')


def convert(monkeypatch, src: Path, dst: Path, target: str, *extra: str) -> int:
    monkeypatch.setattr(sys, 'argv', ['extract_backbone_weights.py', str(src), str(dst),
                                      '--target', target, *extra])
    return tool.main()


def training_checkpoint(config: str, path: Path) -> dict:
    """A checkpoint like SafeCheckpointHook's: state dict plus encoded non-tensor state."""
    torch.manual_seed(0)
    state = build_model_from_cfg(Config.fromfile(ROOT / config)).state_dict()
    for key, value in state.items():  # non-default BN statistics, so loading is visible
        if key.endswith(('running_mean', 'running_var')):
            value.uniform_(0.5, 1.5)
    torch.save(encode_checkpoint(dict(state_dict=state, meta=dict(epoch=3, seed=np.int64(0)),
                                      message_hub=dict(log_scalars={}))), path)
    return state


@pytest.fixture(scope='module')
def r50(tmp_path_factory):
    path = tmp_path_factory.mktemp('r50') / 'epoch_200.pth'
    return path, training_checkpoint('configs/npid/r50_in1k.py', path)


def loaded(path: Path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


def assert_initialised_from(module: torch.nn.Module, converted: dict) -> None:
    for key, value in module.state_dict().items():
        assert key in converted, key
        torch.testing.assert_close(value, converted[key], rtol=0, atol=0, msg=key)


def test_r50_into_mmdet_c4_backbone_and_shared_head(r50, tmp_path, monkeypatch, capsys):
    src, state = r50
    assert convert(monkeypatch, src, tmp_path / 'det.pth', 'mmdet', '--target-depth', '50') == 0
    out = capsys.readouterr().out
    assert 'mmdet: 0 missing, 0 unexpected' in out
    assert "shared head's extra norm after res5 (shared_head norm.*" in out
    converted = loaded(tmp_path / 'det.pth')
    assert converted.keys() == {k for k in state if k.startswith('backbone.')}
    cfg = prepare_benchmark_cfg(Config.fromfile(DET_CFG), str(tmp_path / 'det.pth'), None,
                                distributed=False, cuda=False)
    init_default_scope('mmdet')
    from mmdet.registry import MODELS
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    head = detector.roi_head.shared_head
    assert type(head).__name__ == 'ResLayerExtraNorm'
    # the extra norm after res5 is not in the checkpoint: fresh (weight 1, bias 0)
    assert torch.equal(head.norm.weight, torch.ones(2048))
    assert torch.equal(head.norm.bias, torch.zeros(2048))
    res5 = torch.nn.ModuleDict(dict(layer4=head.layer4))
    used = set()
    for part in (detector.backbone, res5):  # stem..res4, res5
        assert_initialised_from(part, {k[len('backbone.'):]: v for k, v in converted.items()})
        used |= {f'backbone.{k}' for k in part.state_dict()}
    assert used == converted.keys()  # and nothing left unused


def test_res_layer_extra_norm_is_norm_after_res5():
    from selfemb.transfer.res_layer_extra_norm import ResLayerExtraNorm
    head = ResLayerExtraNorm(18, stage=3, stride=2, norm_cfg=dict(type='BN'), norm_eval=False)
    head.eval()  # (mmdet's ResLayer.train returns None)
    with torch.no_grad():
        head.norm.running_mean.uniform_(-1, 1)
        head.norm.weight.uniform_(0.5, 1.5)
    x = torch.randn(2, 256, 8, 8)
    assert torch.allclose(head(x), head.norm(head.layer4(x)))
    assert head(x).shape == (2, 512, 4, 4)
    from mmdet.registry import MODELS
    init_default_scope('mmdet')  # mmdet's config resolves our scope-prefixed type
    built = MODELS.build(dict(type='selfemb.ResLayerExtraNorm', depth=50))
    assert isinstance(built, ResLayerExtraNorm) and built.norm.num_features == 2048


def test_target_depth_rejects_a_shallower_checkpoint(tmp_path, monkeypatch, capsys):
    """dist_train.sh checks against the ResNet-50 of the configs: a CIFAR ResNet-18
    checkpoint is reported as not matching (without the target depth it would pass)."""
    training_checkpoint('configs/npid/r18_cifar10.py', tmp_path / 'r18.pth')
    for target in ('mmdet', 'mmseg'):
        assert convert(monkeypatch, tmp_path / 'r18.pth', tmp_path / 'o.pth', target,
                       '--target-depth', '50') == 1
        err = capsys.readouterr().err
        assert f'do not load into the {target} backbone' in err and 'missing' in err
        assert convert(monkeypatch, tmp_path / 'r18.pth', tmp_path / 'o.pth', target) == 0
    assert convert(monkeypatch, tmp_path / 'r18.pth', tmp_path / 'o.pth', 'mmdet',
                   '--target-depth', '51') == 1
    assert 'target_depth must be one of' in capsys.readouterr().err


def test_r50_into_mmseg_fcn_and_mmpretrain(r50, tmp_path, monkeypatch):
    src, _ = r50
    assert convert(monkeypatch, src, tmp_path / 'seg.pth', 'mmseg') == 0
    converted = loaded(tmp_path / 'seg.pth')
    cfg = prepare_benchmark_cfg(Config.fromfile(SEG_CFG), str(tmp_path / 'seg.pth'), None,
                                distributed=False, cuda=False)
    init_default_scope('mmseg')
    from mmseg.registry import MODELS
    segmentor = MODELS.build(cfg.model)
    segmentor.init_weights()
    assert_initialised_from(segmentor.backbone,
                            {k[len('backbone.'):]: v for k, v in converted.items()})
    assert {f'backbone.{k}' for k in segmentor.backbone.state_dict()} == converted.keys()
    assert convert(monkeypatch, src, tmp_path / 'cls.pth', 'mmpretrain') == 0


def test_sobel_checkpoint_gives_its_rgb_trunk(tmp_path, monkeypatch, capsys):
    state = training_checkpoint('configs/super_and/r18_cifar10.py', tmp_path / 'sa.pth')
    assert convert(monkeypatch, tmp_path / 'sa.pth', tmp_path / 'rgb.pth', 'mmpretrain') == 0
    assert 'the RGB trunk (backbone.trunk.*) is exported' in capsys.readouterr().out
    converted = loaded(tmp_path / 'rgb.pth')
    trunk = {'backbone.' + k[len('backbone.trunk.'):]: v for k, v in state.items()
             if k.startswith('backbone.trunk.')}
    assert converted.keys() == trunk.keys()
    for key in trunk:
        assert torch.equal(converted[key], trunk[key])
    # a CIFAR stem into a detection backbone: converted, with a warning
    assert convert(monkeypatch, tmp_path / 'sa.pth', tmp_path / 'det.pth', 'mmdet') == 0
    assert 'WARNING: CIFAR ResNet' in capsys.readouterr().out


def test_bad_inputs_fail_with_the_keys(r50, tmp_path, monkeypatch, capsys):
    torch.save(dict(state_dict={'neck.fc.weight': torch.zeros(2, 2)}), tmp_path / 'neck.pth')
    assert convert(monkeypatch, tmp_path / 'neck.pth', tmp_path / 'out.pth', 'mmdet') == 1
    assert 'no "backbone." weights' in capsys.readouterr().err
    state = torch.load(r50[0], map_location='cpu', weights_only=False)['state_dict']
    del state['backbone.layer2.0.bn1.running_mean']
    state['backbone.extra.weight'] = torch.zeros(1)
    torch.save(dict(state_dict=state), tmp_path / 'broken.pth')
    assert convert(monkeypatch, tmp_path / 'broken.pth', tmp_path / 'out.pth', 'mmseg') == 1
    err = capsys.readouterr().err
    assert 'missing (1): backbone:layer2.0.bn1.running_mean' in err
    assert 'unexpected (1): extra.weight' in err
    assert not (tmp_path / 'out.pth').exists()
    assert convert(monkeypatch, tmp_path / 'none.pth', tmp_path / 'out.pth', 'mmdet') == 2
