"""Every method config builds and trains a few iterations on tiny data, with kNN where it
has a KNNEvalHook (the unseen-category configs have none: recall_at_k.py evaluates them)."""
from pathlib import Path

import pytest
from mmengine.config import Config

from selfemb.engine.runner import build_runner, hooks_by_role

from .tiny_data import WRITERS

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs').glob('[!_]*/*.py')
                 if 'benchmarks' not in p.parts)

# Per-config overrides the tiny data needs (config path prefix -> merge_from_dict options).
OVERRIDES = {
    # 24-64 tiny samples: fewer clusters (x min_cluster) and negatives than samples
    'configs/interclr/': {'model.memory.num_clusters': 4, 'model.memory.min_cluster': 2,
                          'model.num_negatives': 8, 'model.intra_negatives': 16},
    # ImageNet weights are a user-supplied file: train from random init here
    'configs/isif/r50_': {'model.backbone.init_cfg': None},
}


def walk(node, fn) -> None:
    """Call ``fn`` on every dict inside ``node``."""
    if isinstance(node, dict):
        fn(node)
        for value in node.values():
            walk(value, fn)
    elif isinstance(node, (list, tuple)):
        for value in node:
            walk(value, fn)


def shrink(cfg: Config, data_roots: dict) -> None:
    """Point every dataset at tiny files, and shrink batches, crops and epochs."""

    # AlexNet's three 3x3/2 max-pools after a stride-4 conv need >= 63 pixels
    side = 64 if cfg.model.get('backbone', {}).get('type') == 'AlexNetBN' else 32

    def visit(d: dict) -> None:
        if d.get('type') in data_roots:
            d['data_root'] = str(data_roots[d['type']])
        if 'batch_size' in d:
            d.update(batch_size=8, num_workers=0, persistent_workers=False)
        if 'num_groups' in d:  # CLD: k <= the tiny batch
            d['num_groups'] = min(d['num_groups'], 4)
        long_tail = (d.get('filter_cfg') or {}).get('long_tail')
        if long_tail:  # a tail the 64-image set can supply
            long_tail['imbalance_ratio'] = min(long_tail['imbalance_ratio'], 2)
        for key in ('scale', 'crop_size', 'size'):
            if d.get(key) in (224, 256, 96, 227):  # ImageNet / STL-10 / ISIF crops -> 32
                d[key] = side
            elif d.get(key) == (256, 256):  # ISIF unseen: fixed-size resize
                d[key] = (side, side)
        if d.get('type') == 'UIC':  # K pseudo classes must not exceed the tiny data's N
            d['num_classes'] = min(d['num_classes'], 4)
    walk(cfg._cfg_dict, visit)
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.logger.interval = 1
    for hook in hooks_by_role(cfg.custom_hooks):
        if hook.type == 'KNNEvalHook':
            hook.update(interval=1, k=5)


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory) -> dict:
    return {name: write(tmp_path_factory.mktemp(name)) for name, write in WRITERS.items()}


@pytest.mark.parametrize('config', CONFIGS)
def test_config_trains_on_tiny_data(config, data_roots, tmp_path):
    cfg = Config.fromfile(ROOT / config)
    shrink(cfg, data_roots)
    for prefix, options in OVERRIDES.items():
        if config.startswith(prefix):
            cfg.merge_from_dict(options)
    cfg.work_dir = str(tmp_path)
    runner = build_runner(cfg)
    runner.train()
    if any(hook.type == 'KNNEvalHook' for hook in hooks_by_role(cfg.custom_hooks)):
        knn = runner.message_hub.get_info('knn')
        assert knn is not None and 0.0 <= knn['knn_top1'] <= 100.0
    assert (tmp_path / 'epoch_1.pth').exists()
