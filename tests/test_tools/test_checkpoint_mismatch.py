"""tools/test.py and tools/extract_features.py refuse a checkpoint of another model (the
reproduced case: an ISIF checkpoint evaluated with the Super-AND config), unless
--allow-mismatch; the VOC07 SVM extractor still takes a method's checkpoint."""
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from selfemb.apis import build_model_from_cfg, init_model
from selfemb.engine.model_loading import CheckpointMismatchError, load_checkpoint_checked
from tests.tool_loader import load_tool

ROOT = Path(__file__).resolve().parents[2]


def load(name: str):
    return load_tool(f'tools/{name}.py')


@pytest.fixture(scope='module')
def isif_checkpoint(tmp_path_factory) -> Path:
    model = build_model_from_cfg(Config.fromfile(ROOT / 'configs/isif/r18_fmnist.py'))
    path = tmp_path_factory.mktemp('ckpt') / 'isif.pth'
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(selfemb=dict(algorithm='ISIF', config='configs/isif/r18_fmnist.py',
                                           dataset_length=60000))), path)
    return path


@pytest.mark.parametrize('tool,extra', [('test', []), ('extract_features',
                                                      ['--out', 'unused', '--layers',
                                                       'embedding'])])
def test_tools_refuse_another_methods_checkpoint(tool, extra, isif_checkpoint, monkeypatch,
                                                 tmp_path):
    module = load(tool)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, 'argv', [tool, str(ROOT / 'configs/super_and/r18_fmnist.py'),
                                      str(isif_checkpoint), *extra])
    with pytest.raises(CheckpointMismatchError) as err:
        module.main()
    message = str(err.value)
    assert 'algorithm ISIF in the checkpoint, SuperAND in the model' in message
    assert 'config configs/isif/r18_fmnist.py, 60000 training samples' in message
    assert 'missing key(s)' in message and '--allow-mismatch' in message


def test_allow_mismatch_loads_the_keys_that_fit(isif_checkpoint):
    model = build_model_from_cfg(Config.fromfile(ROOT / 'configs/npid/r18_fmnist.py'))
    with pytest.raises(CheckpointMismatchError, match='algorithm ISIF'):
        load_checkpoint_checked(model, str(isif_checkpoint))
    load_checkpoint_checked(model, str(isif_checkpoint), allow_mismatch=True)
    saved = torch.load(isif_checkpoint, weights_only=True)['state_dict']
    assert torch.equal(model.state_dict()['backbone.conv1.weight'],
                       saved['backbone.conv1.weight'])


def test_same_method_loads_strictly_with_an_unsized_bank(tmp_path):
    """A trained NPID checkpoint (bank of 64 rows) into a model built from the config
    (empty bank): the dataset-sized state is not compared, every weight is loaded."""
    cfg = Config.fromfile(ROOT / 'configs/npid/r18_fmnist.py')
    trained = build_model_from_cfg(cfg)
    trained.memory.setup(64, seed=0)
    torch.save(dict(state_dict=trained.state_dict()), tmp_path / 'npid.pth')
    model = init_model(cfg, str(tmp_path / 'npid.pth'))
    for key, value in trained.state_dict().items():
        if not key.startswith('memory.'):
            assert torch.equal(model.state_dict()[key], value), key


def test_backbone_only_extractor_takes_a_methods_checkpoint(tmp_path):
    svm = Config.fromfile(ROOT / 'configs/benchmarks/svm_voc07/r50_voc07.py')
    svm.model.backbone.depth = 18
    npid = Config.fromfile(ROOT / 'configs/npid/r18_fmnist.py')
    npid.model.backbone = dict(type='mmpretrain.ResNet', depth=18)
    source = build_model_from_cfg(npid)
    torch.save(dict(state_dict=source.state_dict(), meta=dict(selfemb=dict(algorithm='NPID'))),
               tmp_path / 'npid.pth')
    model = build_model_from_cfg(svm)
    load_checkpoint_checked(model, str(tmp_path / 'npid.pth'))
    assert torch.equal(model.backbone.conv1.weight, source.backbone.conv1.weight)
    short = {k: v for k, v in source.state_dict().items() if 'layer4' not in k}
    torch.save(dict(state_dict=short), tmp_path / 'short.pth')
    with pytest.raises(CheckpointMismatchError, match=r'missing key\(s\).*layer4'):
        load_checkpoint_checked(model, str(tmp_path / 'short.pth'))
