"""Linear-probe and semi-supervised configs train on tiny data from a selfemb checkpoint."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from .test_config_smoke import walk
from .tiny_data import WRITERS

ROOT = Path(__file__).resolve().parents[2]
# near-duplicates of a fast one (same code path, bigger network or other data): slow set
SLOW = {'configs/benchmarks/linear/r18_cifar10.py', 'configs/benchmarks/linear/r50_in1k.py',
        'configs/benchmarks/semi/r50_in1k_1pct.py', 'configs/benchmarks/semi/r50_in1k_10pct.py'}
CONFIGS = [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c for c in sorted(
    str(p.relative_to(ROOT)) for kind in ('linear', 'semi')
    for p in (ROOT / 'configs' / 'benchmarks' / kind).glob('*.py'))]


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory) -> dict:
    return {name: WRITERS[name](tmp_path_factory.mktemp(name))
            for name in ('FashionMNIST', 'CIFAR10', 'ImageList')}


def shrink(cfg: Config, data_roots: dict, index_file: Path) -> None:
    """Tiny files, 8 images per split (one batch), 32 px crops, one epoch."""
    def visit(d: dict) -> None:
        if d.get('type') in data_roots:
            d.update(data_root=str(data_roots[d['type']]), indices=8)
        if 'index_file' in d:  # filter_cfg of a semi-supervised source: 8 rows, then indices
            d['index_file'] = str(index_file)
        if 'batch_size' in d:
            d.update(batch_size=8, num_workers=0, persistent_workers=False)
        for key in ('scale', 'crop_size'):
            if d.get(key) in (224, 256):
                d[key] = 32
    walk(cfg._cfg_dict, visit)
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.default_hooks.logger.interval = 1


def backbone_checkpoint(cfg: Config, path: Path) -> dict:
    """A selfemb-style checkpoint ('state_dict' with 'backbone.*' keys, plus a neck that
    must be ignored) whose weights differ from any fresh initialisation."""
    from selfemb.registry import MODELS
    init_default_scope('selfemb')
    backbone = MODELS.build(dict(cfg.model.backbone, init_cfg=None, frozen_stages=-1))
    torch.manual_seed(0)
    state = {k: (v + 0.01 * torch.rand_like(v) if v.is_floating_point() else v)
             for k, v in backbone.state_dict().items()}
    full = {f'backbone.{k}': v for k, v in state.items()}
    full['neck.fc.weight'] = torch.zeros(2, 2)
    torch.save(dict(state_dict=full, meta=dict()), path)
    return state


@pytest.mark.parametrize('config', CONFIGS)
def test_benchmark_config_trains_from_checkpoint(config, data_roots, tmp_path):
    cfg = Config.fromfile(ROOT / config)
    (tmp_path / 'sub.txt').write_text('0\n2\n3\n5\n7\n8\n9\n10\n')
    shrink(cfg, data_roots, tmp_path / 'sub.txt')
    ckpt = tmp_path / 'selfemb.pth'
    state = backbone_checkpoint(cfg, ckpt)
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    frozen = 'linear' in config
    runner.train()
    after = runner.model.backbone.state_dict()
    changed = [k for k in state if not torch.equal(after[k], state[k])]
    if frozen:  # weights and BN statistics untouched, nothing trainable but the head
        assert changed == []
        trainable = [n for n, p in runner.model.named_parameters() if p.requires_grad]
        assert trainable and all(n.startswith('head.') for n in trainable)
    else:  # loaded, then fine-tuned
        assert changed and len(runner.train_dataloader.dataset) == 8
    assert 0.0 <= runner.message_hub.get_scalar('val/accuracy/top1').current() <= 100.0


@pytest.mark.parametrize('config,weight_decay', [
    ('configs/benchmarks/semi/r50_in1k_1pct.py', 5e-4),
    ('configs/benchmarks/semi/r50_in1k_10pct.py', 1e-4),
    ('configs/benchmarks/semi/r18_fmnist_10pct.py', 1e-4)])
def test_semi_weight_decay_as_mmselfsup(config, weight_decay):
    """mmselfsup imagenet_1percent: wd 5e-4; imagenet_10percent: wd 1e-4."""
    cfg = Config.fromfile(ROOT / config)
    assert cfg.optim_wrapper.optimizer.weight_decay == weight_decay


def test_imagenet_resizes_use_pillow():
    """mmselfsup's ImageNet benchmark pipelines resize with backend='pillow'."""
    cfg = Config.fromfile(ROOT / 'configs/_base_/benchmarks/cls_imagenet.py')
    resizes = [t for p in (cfg.train_pipeline, cfg.test_pipeline) for t in p
               if t['type'].split('.')[-1] in ('RandomResizedCrop', 'ResizeEdge')]
    assert len(resizes) == 2 and all(t.get('backend') == 'pillow' for t in resizes)
