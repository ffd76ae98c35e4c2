"""tools/model_converters/untrained_checkpoint.py: the config's model as initialised, saved
so that the downstream tools load it like a trained checkpoint."""
import subprocess
import sys
from pathlib import Path

import torch

from selfemb.apis.model import init_model
from tests.tool_loader import load_tool

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools' / 'model_converters' / 'untrained_checkpoint.py'
CONFIG = 'configs/isif/r18_fmnist.py'


def tool_module():
    return load_tool(TOOL, 'untrained_checkpoint')


def test_saves_the_seeded_initial_model_that_loads_back(tmp_path):
    subprocess.run([sys.executable, str(TOOL), CONFIG, str(tmp_path / 'a.pth')], cwd=ROOT,
                   capture_output=True, text=True, check=True)
    a = torch.load(tmp_path / 'a.pth', weights_only=True)
    make = tool_module().untrained_checkpoint
    b, c = make(str(ROOT / CONFIG)), make(str(ROOT / CONFIG), seed=1)
    assert a['meta']['seed'] == 0 and a['meta']['selfemb']['algorithm'] == 'ISIF'
    assert a['state_dict'].keys() == b['state_dict'].keys()
    assert all(torch.equal(a['state_dict'][k], b['state_dict'][k]) for k in a['state_dict'])
    conv = 'backbone.conv1.weight'
    assert not torch.equal(a['state_dict'][conv], c['state_dict'][conv])
    # BatchNorm in its default statistics: never updated by a forward pass
    assert torch.equal(a['state_dict']['backbone.bn1.running_var'], torch.ones(64))
    model = init_model(str(ROOT / CONFIG), str(tmp_path / 'a.pth'))
    assert torch.equal(model.state_dict()[conv], a['state_dict'][conv])
