"""The mmdet / mmseg benchmark configs and the run-time changes train.py applies."""
from pathlib import Path

import pytest
from mmengine.config import Config

from selfemb.transfer.downstream import (
    prepare_benchmark_cfg,
    set_data_root,
    set_pretrained,
    sync_bn_to_bn,
)

ROOT = Path(__file__).resolve().parents[2]
DET_CFG = ROOT / 'configs/benchmarks/mmdetection/voc0712/faster-rcnn_r50-c4_24k_voc0712.py'
SEG_CFG = ROOT / 'configs/benchmarks/mmsegmentation/voc12aug/fcn_r50-d8_20k_voc12aug.py'
PYTORCH_MEAN, PYTORCH_STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def datasets(cfg: Config) -> list:
    train = cfg.train_dataloader.dataset
    return list(train.get('datasets', [train])) + [cfg.val_dataloader.dataset,
                                                   cfg.test_dataloader.dataset]


def test_detection_config():
    cfg = Config.fromfile(DET_CFG)
    assert cfg.default_scope == 'mmdet' and cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == 24000
    assert cfg.param_scheduler[1].milestones == [18000, 22000]
    model = cfg.model
    assert model.data_preprocessor.mean == PYTORCH_MEAN and model.data_preprocessor.bgr_to_rgb
    assert model.data_preprocessor.std == PYTORCH_STD
    assert model.roi_head.bbox_head.num_classes == 20
    for part in (model.backbone, model.roi_head.shared_head):
        assert part.init_cfg.prefix == 'backbone.' and part.style == 'pytorch'
        assert part.norm_cfg == dict(type='SyncBN', requires_grad=True) and not part.norm_eval
    assert model.backbone.frozen_stages == -1 and model.backbone.num_stages == 3
    years = [d.data_prefix.sub_data_root for d in cfg.train_dataloader.dataset.datasets]
    assert years == ['VOC2007/', 'VOC2012/']
    assert cfg.val_dataloader.dataset.ann_file == 'VOC2007/ImageSets/Main/test.txt'
    assert cfg.val_evaluator.eval_mode == '11points' and len(cfg.val_evaluator.iou_thrs) == 10
    assert cfg.val_evaluator.iou_thrs[0] == 0.5 and cfg.val_evaluator.iou_thrs[-1] == 0.95


def test_segmentation_config():
    cfg = Config.fromfile(SEG_CFG)
    assert cfg.default_scope == 'mmseg' and cfg.train_cfg.max_iters == 20000
    model = cfg.model
    assert model.pretrained is None and model.backbone.type == 'ResNet'  # not ResNetV1c
    assert model.backbone.strides == (1, 2, 1, 1) and model.backbone.dilations == (1, 1, 2, 4)
    assert model.backbone.init_cfg.prefix == 'backbone.'
    assert model.data_preprocessor.mean == PYTORCH_MEAN
    assert model.decode_head.num_classes == 21
    seg_dirs = [d.data_prefix.seg_map_path for d in cfg.train_dataloader.dataset.datasets]
    assert seg_dirs == ['SegmentationClass', 'SegmentationClassAug']


@pytest.mark.parametrize('path', [DET_CFG, SEG_CFG])
def test_prepare_for_one_process(path, tmp_path):
    cfg = Config.fromfile(path)
    (tmp_path / 'backbone.pth').write_bytes(b'')
    prepare_benchmark_cfg(cfg, str(tmp_path / 'backbone.pth'), str(tmp_path),
                          distributed=False, cuda=True)
    assert 'SyncBN' not in str(cfg.model)
    assert all(d.data_root == str(tmp_path) for d in datasets(cfg))
    assert str(tmp_path / 'backbone.pth') in str(cfg.model)
    assert 'open-mmlab://' not in str(cfg.model)
    cfg = Config.fromfile(path)
    prepare_benchmark_cfg(cfg, None, None, distributed=True, cuda=True)
    assert 'SyncBN' in str(cfg.model)  # kept for multi-GPU runs
    assert sync_bn_to_bn(cfg) > 0 and set_data_root(cfg, 'x') == len(datasets(cfg))


def test_prepare_errors(tmp_path):
    cfg = Config.fromfile(SEG_CFG)
    with pytest.raises(FileNotFoundError, match='extract_backbone_weights'):
        prepare_benchmark_cfg(cfg, str(tmp_path / 'missing.pth'), None, False, False)
    with pytest.raises(FileNotFoundError, match='data root'):
        prepare_benchmark_cfg(cfg, None, str(tmp_path / 'nowhere'), False, False)
    cfg.model.backbone.init_cfg = None
    with pytest.raises(KeyError, match="no init_cfg=dict\\(type='Pretrained'"):
        set_pretrained(cfg, 'x.pth')
