"""--cfg-options keys are checked against the config and the components' arguments."""
from pathlib import Path

import pytest
from mmengine.config import Config

from selfemb.engine.config_check import accepted_arguments, check_cfg_options

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def cfg() -> Config:
    return Config.fromfile(ROOT / 'configs/isif/r18_fmnist.py')


@pytest.mark.parametrize('key', [
    'train_cfg.max_epochs', 'model.head.temperature', 'env_cfg.dist_cfg.timeout',
    'custom_hooks.knn.k', 'param_scheduler.0.gamma', 'work_dir', 'allow_mismatch',
    'train_dataloader.dataset.indices',  # a new argument of FashionMNIST
    'default_hooks.checkpoint.max_keep_ckpts', 'optim_wrapper.optimizer.nesterov',
    'model.backbone.init_cfg.checkpoint',  # None in the config: the option makes a dict
    'data_preprocessor.batch_augments.0.scale'])
def test_valid_keys_pass(cfg, key):
    check_cfg_options(cfg, {key: 1})


@pytest.mark.parametrize('key,message', [
    ('trian_cfg.max_epochs', r"no 'trian_cfg'\. Did you mean 'train_cfg'"),
    ('train_cfg.max_epoch', r"EpochBasedTrainLoop\) takes no 'max_epoch'.*'max_epochs'"),
    ('model.head.tempreature', r"takes no 'tempreature'.*'temperature'"),
    ('default_hooks.checkpoint.intervl', r"takes no 'intervl'.*'interval'"),
    ('custom_hooks.knn.intervall', r"KNNEvalHook\) takes no 'intervall'.*'interval'"),
    ('custom_hooks.knnn.k', r"no hook with role 'knnn' in custom_hooks\. Did you mean 'knn'.*"
     r"Its roles: \['knn', 'knn_bank'\]"),
    ('optim_wrapper.optimizer.lrr', r"SGD\) takes no 'lrr'.*'lr'"),
    ('train_dataloader.dataset.indeces', r"FashionMNIST\) takes no 'indeces'.*'indices'"),
])
def test_unknown_keys_name_the_closest(cfg, key, message):
    with pytest.raises(KeyError, match=message):
        check_cfg_options(cfg, {key: 1})


def test_accepted_arguments_follow_kwargs_up_the_classes():
    class Base:
        def __init__(self, a: int = 0) -> None:
            self.a = a

    class Child(Base):
        def __init__(self, b: int = 0, **kwargs) -> None:
            super().__init__(**kwargs)

    assert accepted_arguments(Child) == {'a', 'b'}
    assert accepted_arguments(lambda x, **kw: x) is None
