"""tools/benchmarks/{mmdetection,mmsegmentation}/dist_train.sh on a tiny VOC: convert a
selfemb checkpoint, load it, train two iterations and validate (CPU, small images)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from tests.test_tools.tiny_voc import write_voc
from tests.test_transfer.test_backbone_weights import training_checkpoint

ROOT = Path(__file__).resolve().parents[2]
DET_CFG = ROOT / 'configs/benchmarks/mmdetection/voc0712/faster-rcnn_r50-c4_24k_voc0712.py'
SEG_CFG = ROOT / 'configs/benchmarks/mmsegmentation/voc12aug/fcn_r50-d8_20k_voc12aug.py'


def walk(node, fn) -> None:
    if isinstance(node, dict):
        fn(node)
        for value in node.values():
            walk(value, fn)
    elif isinstance(node, (list, tuple)):
        for value in node:
            walk(value, fn)


def shrink(cfg: Config, scale=(128, 96), crop=(64, 64)) -> Config:
    """Small images, 2 iterations, validation at the end, no worker processes."""
    def visit(d: dict) -> None:
        kind = d.get('type')
        if kind == 'RandomChoiceResize':
            d['scales'] = [scale]
        elif kind in ('Resize', 'RandomResize') and 'scale' in d:
            d['scale'] = scale
        elif kind == 'RandomCrop':
            d['crop_size'] = crop
        elif kind == 'Pad':
            d['size'] = crop
        if 'batch_size' in d:
            d.update(batch_size=2, num_workers=0, persistent_workers=False)
    walk(cfg._cfg_dict, visit)
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 2
    return cfg


@pytest.fixture(scope='module')
def voc(tmp_path_factory) -> Path:
    return write_voc(tmp_path_factory.mktemp('voc'))


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp('ckpt') / 'epoch_200.pth'
    training_checkpoint('configs/npid/r50_in1k.py', path)
    return path


def run(library: str, cfg: Config, checkpoint: Path, data_root: Path, work: Path,
        gpus: int = 1, *extra: str) -> str:
    config = work.parent / f'{library}_tiny.py'
    cfg.dump(str(config))
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
               PORT=str(29600 + os.getpid() % 1000))
    cmd = ['bash', str(ROOT / f'tools/benchmarks/{library}/dist_train.sh'), str(config),
           str(checkpoint), str(gpus), '--data-root', str(data_root), '--work-dir', str(work),
           *extra]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-5000:]
    assert (work / 'backbone.pth').is_file() and (work / 'iter_2.pth').is_file()
    assert 'load backbone. in model from' in log and 'missing keys' not in log
    return log


@pytest.mark.slow
def test_detection_two_iterations(voc, checkpoint, tmp_path):
    cfg = shrink(Config.fromfile(DET_CFG))
    cfg.model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    cfg.model.train_cfg.rcnn.sampler.num = 64
    cfg.model.test_cfg.rpn.update(nms_pre=200, max_per_img=50)
    log = run('mmdetection', cfg, checkpoint, voc, tmp_path / 'work')
    assert 'pascal_voc/mAP' in log and 'pascal_voc/AP75' in log
    # checked against ResNet-50; the shared head's fresh extra norm is named, not missing
    assert 'checked against a mmdet ResNet-50' in log
    assert "shared head's extra norm after res5" in log
    assert 'load backbone.layer4. in model from' in log  # res5 of ResLayerExtraNorm
    assert 'Iter(train) [2/2]' in log


@pytest.mark.slow
def test_segmentation_two_iterations(voc, checkpoint, tmp_path):
    cfg = shrink(Config.fromfile(SEG_CFG))
    cfg.model.data_preprocessor.size = (64, 64)
    log = run('mmsegmentation', cfg, checkpoint, voc / 'VOC2012', tmp_path / 'work')
    assert 'mIoU' in log and 'Iter(train) [2/2]' in log


@pytest.mark.slow
@pytest.mark.dist
def test_segmentation_two_cpu_processes(voc, checkpoint, tmp_path):
    cfg = shrink(Config.fromfile(SEG_CFG))
    cfg.model.data_preprocessor.size = (64, 64)
    log = run('mmsegmentation', cfg, checkpoint, voc / 'VOC2012', tmp_path / 'work', 2,
              '--cfg-options', 'env_cfg.dist_cfg.backend=gloo')
    assert 'Iter(train) [2/2]' in log
