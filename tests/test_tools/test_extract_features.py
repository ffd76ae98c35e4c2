"""tools/extract_features.py writes <split>_<layer>.npy / <split>_labels.npy / meta.json."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from selfemb.apis import build_model_from_cfg, extract_features, load_features
from selfemb.engine.model_loading import CheckpointMismatchError
from tests.tool_loader import load_tool

ROOT = Path(__file__).resolve().parents[2]
CONFIG = 'configs/isif/r18_fmnist.py'
tool = load_tool('tools/extract_features.py')


def overrides(data_root: Path) -> dict:
    out = {}
    for key in ('knn_train_dataloader', 'knn_val_dataloader'):
        out.update({f'{key}.dataset.data_root': str(data_root), f'{key}.batch_size': 32})
    return out


def options(data_root: Path) -> list:
    return [f'{k}={v}' for k, v in overrides(data_root).items()]


def run_tool(monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, 'argv', ['extract_features.py', *map(str, args)])
    tool.main()


def test_tool_writes_the_arrays(tiny_fmnist, tmp_path, monkeypatch):
    cfg = Config.fromfile(ROOT / CONFIG)
    cfg.merge_from_dict(overrides(tiny_fmnist))
    torch.manual_seed(1)
    model = build_model_from_cfg(cfg)
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), tmp_path / 'ckpt.pth')
    out = tmp_path / 'feats'
    run_tool(monkeypatch, ROOT / CONFIG, tmp_path / 'ckpt.pth', '--out', out,
             '--layers', 'res4', 'res5', 'embedding', '--cfg-options', *options(tiny_fmnist))
    shapes = {'res4': 256, 'res5': 512, 'embedding': 128}
    for split, n in (('knn_train', 64), ('knn_val', 32)):
        for layer, dim in shapes.items():
            array = np.load(out / f'{split}_{layer}.npy')
            assert array.shape == (n, dim) and array.dtype == np.float32
        labels = np.load(out / f'{split}_labels.npy')
        assert labels.dtype == np.int64 and np.array_equal(labels, np.arange(n) % 10)
    feats, labels = load_features(str(out), 'knn_val', 'res4')
    assert feats.shape == (32, 256) and np.array_equal(labels, np.arange(32) % 10)
    with pytest.raises(FileNotFoundError, match=r"arrays in .*'knn_train_embedding'"):
        load_features(str(out), 'knn_val', 'res2')
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['arrays']['knn_val_res5'] == [[32, 512], 'float32']
    # the same numbers as a direct call on the loaded model
    direct = extract_features(model, Runner.build_dataloader(cfg.knn_val_dataloader),
                              ['res5', 'embedding'])
    for layer in ('res5', 'embedding'):
        np.testing.assert_allclose(np.load(out / f'knn_val_{layer}.npy'), direct[layer],
                                   atol=1e-5)


def test_tool_refuses_a_wrong_checkpoint_or_loader(tiny_fmnist, tmp_path, monkeypatch):
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.zeros(1)}), tmp_path / 'x.pth')
    with pytest.raises(CheckpointMismatchError, match=r'missing key\(s\).*backbone'):
        run_tool(monkeypatch, ROOT / CONFIG, tmp_path / 'x.pth', '--out', tmp_path,
                 '--cfg-options', *options(tiny_fmnist))
    with pytest.raises(KeyError, match=r"no top-level dataloader \['svm_dataloader'\]"):
        run_tool(monkeypatch, ROOT / CONFIG, tmp_path / 'x.pth', '--out', tmp_path,
                 '--dataloader', 'svm_dataloader')


@pytest.mark.slow
@pytest.mark.dist
def test_tool_in_two_cpu_processes_equals_one(tiny_fmnist, tmp_path):
    torch.manual_seed(2)
    cfg = Config.fromfile(ROOT / CONFIG)
    torch.save(dict(state_dict=build_model_from_cfg(cfg).state_dict()), tmp_path / 'ckpt.pth')
    outs = {}
    for procs in (1, 2):
        outs[procs] = tmp_path / f'out{procs}'
        cmd = [sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={procs}',
               f'--master_port={29700 + os.getpid() % 1000}',
               str(ROOT / 'tools/extract_features.py'),
               str(ROOT / CONFIG), str(tmp_path / 'ckpt.pth'), '--out', str(outs[procs]),
               '--layers', 'res3', 'embedding', '--launcher', 'pytorch', '--cfg-options',
               *options(tiny_fmnist), 'env_cfg.dist_cfg.backend=gloo']
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert json.loads((outs[2] / 'meta.json').read_text())['world_size'] == 2
    for name in ('knn_train_res3', 'knn_val_embedding', 'knn_val_labels'):
        np.testing.assert_allclose(np.load(outs[2] / f'{name}.npy'),
                                   np.load(outs[1] / f'{name}.npy'), atol=1e-5)
