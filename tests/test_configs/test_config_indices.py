"""Every training config takes ``--cfg-options train_dataloader.dataset.indices=N`` (and
the kNN reference loader ``knn_train_dataloader.dataset.indices=N``): the dataset it
builds has N samples, the device-resident and long-tailed configs included."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from selfemb.engine.config_check import check_cfg_options
from selfemb.registry import DATASETS

from .tiny_data import WRITERS

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs').glob('[!_]*/*.py')
                 if 'benchmarks' not in p.parts) + sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / 'configs/benchmarks/linear').glob('*.py'))
LOADERS = ('train_dataloader', 'knn_train_dataloader')
N = 5


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory) -> dict:
    return {name: write(tmp_path_factory.mktemp(name)) for name, write in WRITERS.items()}


def tiny(node, data_roots: dict) -> None:
    """Point every source in ``node`` at the tiny files; a tail the tiny sets can supply."""
    if isinstance(node, dict):
        if node.get('type') in data_roots:
            node['data_root'] = str(data_roots[node['type']])
        long_tail = (node.get('filter_cfg') or {}).get('long_tail')
        if long_tail:
            long_tail['imbalance_ratio'] = min(long_tail['imbalance_ratio'], 2)
        for value in node.values():
            tiny(value, data_roots)
    elif isinstance(node, (list, tuple)):
        for value in node:
            tiny(value, data_roots)


@pytest.mark.parametrize('config', CONFIGS)
def test_flat_indices_select_n_samples(config, data_roots):
    init_default_scope('selfemb')
    cfg = Config.fromfile(ROOT / config)
    loaders = [key for key in LOADERS if key in cfg]
    assert 'train_dataloader' in loaders
    options = {f'{key}.dataset.indices': N for key in loaders}
    check_cfg_options(cfg, options)  # what tools/train.py does with --cfg-options
    cfg.merge_from_dict(options)
    for key in loaders:
        tiny(cfg[key], data_roots)
        assert len(DATASETS.build(cfg[key].dataset)) == N, key
    # a list of rows works the same way
    cfg.merge_from_dict({'train_dataloader.dataset.indices': [3, 0, 1]})
    assert len(DATASETS.build(cfg.train_dataloader.dataset)) == 3
