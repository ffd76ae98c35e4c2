"""extract_backbone_weights.py never unpickles an untrusted file (exit 1, naming the trust
option), converts it with --trust-checkpoint, and names files that are not checkpoints."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.tool_loader import load_tool

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools/model_converters/extract_backbone_weights.py'


class Evil:
    """Unpickling it runs code: it writes ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f'open({str(self.marker)!r}, "w").write("ran")', )


def convert(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    env.pop('SELFEMB_TRUST_CHECKPOINTS', None)
    return subprocess.run([sys.executable, str(TOOL), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_untrusted_pickle_is_never_unpickled(tmp_path):
    from mmpretrain.models.backbones import ResNet_CIFAR
    torch.manual_seed(0)
    state = {f'backbone.{k}': v for k, v in ResNet_CIFAR(18).state_dict().items()}
    marker, src, dst = tmp_path / 'marker', tmp_path / 'evil.pth', tmp_path / 'out.pth'
    torch.save(dict(state_dict=state, meta=dict(epoch=1, hook=Evil(marker))), src)

    done = convert(str(src), str(dst), '--target', 'mmpretrain')
    assert done.returncode == 1, done.stdout + done.stderr
    assert not marker.exists() and not dst.exists()
    assert f'{src} is not a weights-only checkpoint' in done.stderr
    assert 'it pickles the global exec' in done.stderr and '--trust-checkpoint' in done.stderr

    done = convert(str(src), str(dst), '--target', 'mmpretrain', '--trust-checkpoint')
    assert done.returncode == 0, done.stdout + done.stderr
    assert marker.read_text() == 'ran'  # trusted: loaded in full, as asked
    out = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    assert out.keys() == state.keys()
    for key, value in out.items():
        assert type(value) is torch.Tensor and torch.equal(value, state[key]), key


@pytest.mark.parametrize('content,message', [
    (b'epoch 3: loss 0.1\n', 'is not a PyTorch checkpoint'),
    (b'', 'is empty (0 bytes): not a PyTorch checkpoint'),
])
def test_not_a_checkpoint(tmp_path, monkeypatch, capsys, content, message):
    tool = load_tool(TOOL, 'extract_backbone_weights')
    src = tmp_path / 'text.pth'
    src.write_bytes(content)
    monkeypatch.setattr(sys, 'argv', ['extract_backbone_weights.py', str(src),
                                      str(tmp_path / 'out.pth')])
    assert tool.main() == 1
    err = capsys.readouterr().err
    assert f'{src} {message}' in err
    assert not (tmp_path / 'out.pth').exists()
