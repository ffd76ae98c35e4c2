"""Every training config takes ``--cfg-options train_dataloader.dataset.indices=N`` (and
the kNN reference loader ``knn_train_dataloader.dataset.indices=N``): the dataset it
builds has N samples, the device-resident, long-tailed and semi-supervised (label subset
from an index file) configs and the benchmark configs included. A config without a
``train_dataloader`` (the VOC07 SVM feature extraction) takes it on every loader it has."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from selfemb.engine.config_check import check_cfg_options
from selfemb.registry import DATASETS

from .tiny_data import WRITERS

ROOT = Path(__file__).resolve().parents[2]
# mmdetection / mmsegmentation hold configs of those toolboxes, not of selfemb
OTHER_TOOLBOXES = ('mmdetection', 'mmsegmentation')
CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs').glob('[!_]*/*.py')
                 if 'benchmarks' not in p.parts) + sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / 'configs/benchmarks').glob('*/*.py')
    if p.parent.name not in OTHER_TOOLBOXES)
LOADERS = ('train_dataloader', 'knn_train_dataloader')
N = 5


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory) -> dict:
    return {name: write(tmp_path_factory.mktemp(name)) for name, write in WRITERS.items()}


@pytest.fixture(scope='module')
def index_file(tmp_path_factory) -> Path:
    """A label subset of 8 rows (not sorted: the file's order is kept)."""
    path = tmp_path_factory.mktemp('semi') / 'train_tiny.txt'
    path.write_text('7\n0\n2\n3\n5\n8\n9\n10\n')
    return path


def tiny(node, data_roots: dict, index_file: Path) -> None:
    """Point every source in ``node`` at the tiny files; a tail the tiny sets can supply,
    a label subset they have the rows of."""
    if isinstance(node, dict):
        if node.get('type') in data_roots:
            node['data_root'] = str(data_roots[node['type']])
        filter_cfg = node.get('filter_cfg') or {}
        long_tail = filter_cfg.get('long_tail')
        if long_tail:
            long_tail['imbalance_ratio'] = min(long_tail['imbalance_ratio'], 2)
        if filter_cfg.get('index_file'):
            filter_cfg['index_file'] = str(index_file)
        for value in node.values():
            tiny(value, data_roots, index_file)
    elif isinstance(node, (list, tuple)):
        for value in node:
            tiny(value, data_roots, index_file)


@pytest.mark.parametrize('config', CONFIGS)
def test_flat_indices_select_n_samples(config, data_roots, index_file):
    init_default_scope('selfemb')
    cfg = Config.fromfile(ROOT / config)
    if 'train_dataloader' in cfg:
        loaders = [key for key in LOADERS if key in cfg]
    else:  # feature extraction for a benchmark: every loader it has
        assert config.startswith('configs/benchmarks/'), 'a method config trains'
        loaders = sorted(key for key in cfg if key.endswith('_dataloader'))
        assert loaders
    options = {f'{key}.dataset.indices': N for key in loaders}
    check_cfg_options(cfg, options)  # what tools/train.py does with --cfg-options
    cfg.merge_from_dict(options)
    for key in loaders:
        tiny(cfg[key], data_roots, index_file)
        assert len(DATASETS.build(cfg[key].dataset)) == N, key
        if (cfg[key].dataset.get('filter_cfg') or {}).get('index_file'):  # its 8 rows
            assert len(DATASETS.build(dict(cfg[key].dataset, indices=None))) == 8, key
    # a list of rows works the same way
    first = loaders[0]
    cfg.merge_from_dict({f'{first}.dataset.indices': [3, 0, 1]})
    assert len(DATASETS.build(cfg[first].dataset)) == 3
