"""AND / Super-AND configs against the official codes' recipes (Raymond-sci/AND,
super-AND/super-AND): per-round lr, UE weight, horizontal flip, trunk initialisation."""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

from selfemb.apis import build_model_from_cfg
from selfemb.engine.schedulers import RoundMultiStepLR
from selfemb.models.losses import ue_weight

from .test_config_smoke import walk

ROOT = Path(__file__).resolve().parents[2]
AND_CFGS = ['configs/and/r18_cifar10.py', 'configs/and/r18_fmnist.py']
SUPER_AND_FLIP_CFGS = ['configs/super_and/r18_cifar10.py', 'configs/super_and/r18_cifar100.py',
                       'configs/super_and/r18_fmnist.py']
ROUND_CFGS = AND_CFGS + SUPER_AND_FLIP_CFGS + ['configs/super_and/r18_svhn.py']


def official_lr(epoch_in_round: int, scale: int) -> float:
    """Both official codes, 200-epoch rounds (``scale`` 10 for the 20-epoch schedule):
    ``lr · 0.1^((t − 80) // 40)`` for ``t ≥ 80``, else ``lr`` (lr 0.03)."""
    offset, step = 80 // scale, 40 // scale
    if epoch_in_round < offset:
        return 0.03
    return 0.03 * (0.1**((epoch_in_round - offset) // step))


@pytest.mark.parametrize('config', ROUND_CFGS)
def test_round_lr_equals_the_official_step_policy(config):
    cfg = Config.fromfile(ROOT / config)
    spec = dict(cfg.param_scheduler[0])
    assert spec.pop('type') == 'RoundMultiStepLR'
    lr = cfg.optim_wrapper.optimizer.lr
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = RoundMultiStepLR(optimizer, **spec)
    per_round = spec['epochs_per_round']
    scale = 200 // per_round
    for epoch in range(cfg.train_cfg.max_epochs):
        expected = official_lr(epoch % per_round, scale)
        assert optimizer.param_groups[0]['lr'] == pytest.approx(expected, rel=1e-12), epoch
        optimizer.step()
        scheduler.step()


@pytest.mark.parametrize('config', [c for c in ROUND_CFGS if 'super_and' in c])
def test_ue_weight_equals_the_official_step(config):
    cfg = Config.fromfile(ROOT / config)
    head, per_round = cfg.model.head, cfg.param_scheduler[0].epochs_per_round
    scale = 200 // per_round
    for t in range(per_round):  # official: val = 0.2 * (epoch // 80), epoch of the round
        assert ue_weight(t, head.ue_step, head.ue_factor) == \
            pytest.approx(0.2 * (t // (80 // scale)))


def transform_types(cfg: Config) -> set:
    """Types in what trains: the train loader's pipeline and the data preprocessor."""
    types = set()
    walk([cfg.train_dataloader, cfg.get('data_preprocessor'),
          cfg.model.get('data_preprocessor')], lambda d: types.add(d.get('type')))
    return types


# NPID's official CIFAR code augments as AND's (both configs of NPID follow it)
@pytest.mark.parametrize('config', AND_CFGS + ['configs/npid/r18_cifar10.py',
                                               'configs/npid/r18_fmnist.py'])
def test_and_and_npid_have_no_horizontal_flip(config):
    cfg = Config.fromfile(ROOT / config)
    types = transform_types(cfg)
    assert not types & {'RandomFlip', 'mmpretrain.RandomFlip', 'BatchHorizontalFlip',
                        'mmpretrain.torchvision/RandomHorizontalFlip'}
    # the rest of the official AND augmentation is there
    if 'fmnist' in config:
        assert {'BatchRandomResizedCrop', 'BatchColorJitter', 'BatchRandomGrayscale'} <= types
    else:
        assert {'mmpretrain.torchvision/RandomResizedCrop', 'mmpretrain.torchvision/ColorJitter',
                'mmpretrain.torchvision/RandomGrayscale'} <= types


@pytest.mark.parametrize('config', SUPER_AND_FLIP_CFGS)
def test_super_and_keeps_the_horizontal_flip(config):
    types = transform_types(Config.fromfile(ROOT / config))
    assert types & {'RandomFlip', 'BatchHorizontalFlip',
                    'mmpretrain.torchvision/RandomHorizontalFlip'}


@pytest.mark.parametrize('config', ['configs/and/r18_cifar10.py',
                                    'configs/super_and/r18_cifar10.py'])
def test_trunks_keep_the_pytorch_default_init(config):
    """Official trunks: PyTorch's default init. mmpretrain's default zero-inits the last
    BN gamma of every residual block (zero_init_residual=True) and draws the convs from
    Kaiming-normal (fan_out); PyTorch's default is uniform within 1/sqrt(fan_in)."""
    model = build_model_from_cfg(Config.fromfile(ROOT / config))
    model.init_weights()
    trunks = ([model.backbone.trunk, model.backbone.sobel_trunk] if 'super_and' in config
              else [model.backbone])
    for trunk in trunks:
        norms = [m for m in trunk.modules() if isinstance(m, _BatchNorm)]
        assert len(norms) == 1 + 2 * 8 + 3  # stem, 2 per BasicBlock, 3 downsample BNs
        for m in norms:
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0), m
        convs = [m for m in trunk.modules() if isinstance(m, torch.nn.Conv2d)]
        assert len(convs) == 1 + 2 * 8 + 3
        for m in convs:
            bound = 1 / math.sqrt(m.weight[0].numel())
            assert m.weight.abs().max() <= bound, m
            # uniform(-b, b): std b / sqrt(3), not Kaiming-normal's sqrt(2 / fan_out)
            assert m.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1), m
