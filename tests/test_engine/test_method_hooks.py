"""``method_hooks``: the hooks a method cannot run without, declared once in its model base
and keyed by role; registered after ``custom_hooks``; removable and reachable by role."""
from pathlib import Path
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from selfemb.engine.config_check import check_cfg_options
from selfemb.engine.hooks import NeighbourhoodDiscoveryHook
from selfemb.engine.runner import build_runner, hooks_by_role

ROOT = Path(__file__).resolve().parents[2]
METHOD_HOOKS = {
    'configs/and/r18_fmnist.py': ('discovery', 'NeighbourhoodDiscoveryHook'),
    'configs/super_and/r18_cifar10.py': ('discovery', 'NeighbourhoodDiscoveryHook'),
    'configs/interclr/r18_cifar10.py': ('odc_init', 'ODCInitHook'),
    'configs/interclr/r50_in1k.py': ('odc_init', 'ODCInitHook'),
    'configs/uic/r18_fmnist.py': ('labels', 'UICLabelHook'),
    'configs/uic/alexnet_in1k.py': ('labels', 'UICLabelHook'),
}


@pytest.mark.parametrize('config, role_and_type', METHOD_HOOKS.items())
def test_each_method_config_gets_its_hook_from_one_place(config, role_and_type):
    role, type_ = role_and_type
    cfg = Config.fromfile(ROOT / config)
    assert cfg.method_hooks[role].type == type_
    assert all(h.type != type_ for h in hooks_by_role(cfg.get('custom_hooks')))
    assert all(getattr(h, 'type', None) != type_ for h in cfg.default_hooks.values())


def hook_types(config: str, tiny_fmnist: Path, tmp_path: Path, **options) -> list:
    cfg = Config.fromfile(ROOT / config)
    opts = {f'{key}.dataset.data_root': str(tiny_fmnist)
            for key in ('train_dataloader', 'knn_train_dataloader', 'knn_val_dataloader')}
    opts.update(options)
    check_cfg_options(cfg, opts)
    cfg.merge_from_dict(opts)
    cfg.work_dir = str(tmp_path / 'work')
    return [type(h).__name__ for h in build_runner(cfg).hooks]


def test_runner_registers_method_hooks_and_none_removes_one(tiny_fmnist, tmp_path):
    hooks = hook_types('configs/uic/r18_fmnist.py', tiny_fmnist, tmp_path,
                       **{'custom_hooks.knn.k': 5, 'method_hooks.labels.log_nmi': False})
    assert hooks.count('UICLabelHook') == 1 and hooks.count('KNNEvalHook') == 1
    removed = hook_types('configs/and/r18_fmnist.py', tiny_fmnist, tmp_path,
                         **{'method_hooks.discovery': None})
    assert 'NeighbourhoodDiscoveryHook' not in removed and 'KNNEvalHook' in removed


def test_unknown_method_hook_role_is_named():
    cfg = Config.fromfile(ROOT / 'configs/and/r18_fmnist.py')
    check_cfg_options(cfg, {'method_hooks.discovery.select_rate': 0.5})
    with pytest.raises(KeyError, match=r"role 'discovry' in method_hooks.*discovery"):
        check_cfg_options(cfg, {'method_hooks.discovry.k': 2})


def test_discovery_takes_the_round_length_from_the_scheduler():
    hook = NeighbourhoodDiscoveryHook()
    runner = SimpleNamespace(param_schedulers=[SimpleNamespace(epochs_per_round=7)],
                             max_epochs=14, logger=None)
    hook.before_train(runner)
    assert hook.epochs_per_round == 7
    with pytest.raises(ValueError, match='no epochs_per_round.*RoundMultiStepLR'):
        NeighbourhoodDiscoveryHook().before_train(SimpleNamespace(param_schedulers=[]))
