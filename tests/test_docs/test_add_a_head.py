"""docs/add_a_head.md, run as written: register a head from a user module, train with it."""
import re
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from selfemb.engine.runner import build_runner
from selfemb.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / 'docs' / 'add_a_head.md'


def python_blocks() -> list:
    return re.findall(r'```python\n(.*?)```', DOC.read_text(), flags=re.S)


@pytest.fixture
def tutorial(tmp_path, monkeypatch):
    head_code, config_code = python_blocks()
    (tmp_path / 'my_heads.py').write_text(head_code)
    # the page's _base_ path is relative to the repository root: make it absolute here
    config_code = config_code.replace("'configs/", f"'{ROOT}/configs/")
    (tmp_path / 'my_config.py').write_text(config_code)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop('my_heads', None)  # and its registration, so the page can run again
    MODELS.module_dict.pop('NTXentHead', None)


def test_tutorial_config_trains_with_the_new_head(tutorial, tiny_fmnist, tmp_path):
    cfg = Config.fromfile(tutorial / 'my_config.py')
    for loader in (cfg.train_dataloader, cfg.knn_train_dataloader, cfg.knn_val_dataloader):
        loader.dataset.data_root = str(tiny_fmnist)
        loader.batch_size = 16
    cfg.custom_hooks.knn.k = 10
    cfg.train_cfg.max_epochs = 1
    cfg.work_dir = str(tmp_path / 'work')
    runner = build_runner(cfg)
    assert type(runner.model.head).__name__ == 'NTXentHead'
    runner.train()
    assert runner.message_hub.get_info('knn') is not None

    # the page's loss against a direct computation of NT-Xent
    from my_heads import nt_xent_loss
    z1 = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    z2 = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    z = torch.cat([z1, z2])
    expected = 0.0
    for i in range(8):
        sims = torch.exp(z[i] @ z.t() / 0.2)
        expected -= torch.log(sims[(i + 4) % 8] / (sims.sum() - sims[i]))
    assert torch.allclose(nt_xent_loss(z1, z2, 0.2), expected / 8, atol=1e-5)


def test_misspelt_type_names_the_close_match(tutorial):
    cfg = Config.fromfile(tutorial / 'my_config.py')
    cfg.model.head.type = 'NTXenHead'
    with pytest.raises(KeyError, match='Did you mean NTXentHead'):
        Runner.from_cfg(dict(cfg, work_dir=str(tutorial / 'w')))
