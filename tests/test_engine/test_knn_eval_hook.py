"""KNNEvalHook in a real mmengine Runner, and tools/test.py end to end.

The toy model and dataset below are registered (``KNNToyModel``, ``KNNToyDataset``) so the
config written by the tools/test.py test can import this module with ``custom_imports``.
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmengine.runner import Runner
from mmengine.structures import BaseDataElement
from torch.utils.data import Dataset

from selfemb.engine.hooks.knn_eval_hook import KNNEvalHook
from selfemb.engine.runner import SelfembRunner
from selfemb.evaluation.knn import weighted_knn
from selfemb.registry import DATASETS, MODELS
from tests._dist_utils import free_port
from tests.tool_loader import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@DATASETS.register_module(force=True)
class KNNToyDataset(Dataset):
    """``n`` noisy images 3×2×2 around 6 class centres; label i % 6."""

    def __init__(self, n: int, seed: int = 0) -> None:
        self.labels = np.arange(n) % 6
        centres = torch.randn(6, 3, 2, 2, generator=torch.Generator().manual_seed(11))
        noise = torch.randn(n, 3, 2, 2, generator=torch.Generator().manual_seed(seed))
        self.images = centres[self.labels] + 0.8 * noise

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.images[i],
                    data_samples=BaseDataElement(metainfo=dict(sample_idx=i)))

    def get_gt_labels(self) -> np.ndarray:
        return self.labels


class ToyPreprocessor(BaseDataPreprocessor):

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        return dict(inputs=[torch.stack(data['inputs'])], data_samples=data['data_samples'])


@MODELS.register_module(force=True)
class KNNToyModel(BaseModel):
    """Linear 12→4 embedding (zero-initialised) trained to copy 4 input pixels."""

    def __init__(self) -> None:
        super().__init__(data_preprocessor=ToyPreprocessor())
        self.proj = torch.nn.Linear(12, 4, bias=False)
        torch.nn.init.zeros_(self.proj.weight)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.proj(x.flatten(1)), dim=1)

    def extract_feat(self, x: torch.Tensor) -> tuple:
        return (x,)

    def forward(self, inputs, data_samples=None, mode: str = 'loss') -> dict:
        x = inputs[0].flatten(1)
        return dict(loss=(self.proj(x) - x[:, ::3]).pow(2).mean())


def loader_cfg(n: int, seed: int, shuffle: bool = False, types: bool = True) -> dict:
    """Dataloader config; ``types=False`` names the types instead of passing classes."""
    return dict(dataset=dict(type=KNNToyDataset if types else 'KNNToyDataset', n=n, seed=seed),
                sampler=dict(type=DefaultSampler if types else 'DefaultSampler',
                             shuffle=shuffle),
                batch_size=4, collate_fn=dict(type=pseudo_collate if types else 'pseudo_collate'))


def expected_knn(model: KNNToyModel, k: int, temperature: float) -> dict:
    train, val = KNNToyDataset(60, seed=0), KNNToyDataset(48, seed=1)
    with torch.no_grad():
        return weighted_knn(model.embed(train.images), train.labels, model.embed(val.images),
                            val.labels, k=k, temperature=temperature)


def toy_runner(work_dir, model, custom_hooks, experiment_name: str, max_epochs: int,
               resume: bool = False) -> SelfembRunner:
    """A toy model trained on 60 toy samples with ``custom_hooks`` and a checkpoint per
    epoch; ``experiment_name`` must be unique (a runner built in the same second would
    otherwise share the visualizer)."""
    return SelfembRunner(
        model=model, work_dir=str(work_dir), default_scope='selfemb',
        experiment_name=experiment_name, train_dataloader=loader_cfg(60, 0, shuffle=True),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.5)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs), randomness=dict(seed=0),
        resume=resume,
        default_hooks=dict(checkpoint=dict(type='SafeCheckpointHook', interval=1)),
        custom_hooks=custom_hooks,
        visualizer=dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]))


def make_runner(work_dir, max_epochs: int = 3, resume: bool = False, **hook_args) -> Runner:
    hook = dict(type='KNNEvalHook', train_dataloader=loader_cfg(60, 0),
                val_dataloader=loader_cfg(48, 1), **hook_args)
    return toy_runner(work_dir, KNNToyModel(), [hook], f'knn_{Path(work_dir).name}',
                      max_epochs, resume)


def test_hook_in_runner(tmp_path):
    runner = make_runner(tmp_path, interval=2, k=5, temperature=0.07)
    runner.train()
    hook = next(h for h in runner.hooks if isinstance(h, KNNEvalHook))
    names = [type(h).__name__ for h in runner.hooks]
    # the epoch's checkpoint is written before the monitor runs
    assert names.index('SafeCheckpointHook') < names.index('KNNEvalHook')
    # the hook evaluated the trained model, not the zero-initialised one
    last = {key: hook.result[key] for key in ('knn_top1', 'knn_top5')}
    assert last == expected_knn(runner.model, k=5, temperature=0.07)
    assert last != expected_knn(KNNToyModel(), k=5, temperature=0.07)
    assert hook.result['best_epoch'] in (2, 3) and hook.result['best_top1'] >= last['knn_top1']
    assert runner.message_hub.get_info('knn') == dict(hook.result, epoch=3)
    # epoch 2 (interval) and epoch 3 (last epoch) were logged, epoch 1 was not
    scalars = glob.glob(str(tmp_path / '*' / 'vis_data' / 'scalars.json'))[0]
    rows = [json.loads(line) for line in open(scalars) if 'knn/top1' in line]
    assert [r['step'] for r in rows] == [2, 3]
    assert rows[-1]['knn/top1'] == hook.result['knn_top1']
    log = open(glob.glob(str(tmp_path / '*' / '*.log'))[0]).read()
    assert 'Epoch(knn) [3]' in log and 'knn/top1' in log
    assert '60 references, 48 queries)' in log


def logged_steps(work_dir) -> list:
    """``(step, knn/top1)`` of every kNN record of every run in ``work_dir``."""
    rows = []
    for scalars in sorted(glob.glob(str(Path(work_dir) / '*' / 'vis_data' / 'scalars.json'))):
        rows += [json.loads(line) for line in open(scalars) if 'knn/top1' in line]
    return [(r['step'], r['knn/top1']) for r in rows]


def test_eval_initial_logs_the_untrained_model_as_epoch_0_once(tmp_path):
    first = make_runner(tmp_path, max_epochs=1, eval_initial=True, k=5)
    first.train()
    initial = expected_knn(KNNToyModel(), k=5, temperature=0.1)  # the zero-initialised model
    trained = expected_knn(first.model, k=5, temperature=0.1)
    assert initial != trained
    assert logged_steps(tmp_path) == [(0, initial['knn_top1']), (1, trained['knn_top1'])]
    log = open(glob.glob(str(tmp_path / '*' / '*.log'))[0]).read()
    assert 'Epoch(knn) [0]' in log
    # resumed after epoch 1: the start is not evaluated again
    resumed = make_runner(tmp_path, max_epochs=2, resume=True, eval_initial=True, k=5)
    resumed.train()
    # epoch 1's checkpoint predates its evaluation: the resumed run evaluates it again
    # (for the best epoch), then epoch 2
    steps = logged_steps(tmp_path)
    assert [step for step, _ in steps] == [0, 1, 1, 2] and steps[1] == steps[2]


def test_hook_rejects_k_above_dataset_before_training(tmp_path):
    runner = make_runner(tmp_path, k=61)
    with pytest.raises(ValueError, match=r'k=61 .*\(60 in KNNToyDataset\)'):
        runner.train()
    assert runner.iter == 0 and not glob.glob(str(tmp_path / '*.pth'))


@pytest.mark.parametrize('kwargs', [dict(k=0), dict(interval=0), dict(temperature=-1.0),
                                    dict(feature='neck')])
def test_hook_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match='KNNEvalHook'):
        KNNEvalHook(loader_cfg(60, 0), loader_cfg(48, 1), **kwargs)


def _write_config(path, custom_hooks: str) -> str:
    with open(path, 'w') as f:
        f.write("custom_imports = dict(imports=['tests.test_engine.test_knn_eval_hook'], "
                'allow_failed_imports=False)\n'
                "default_scope = 'selfemb'\nmodel = dict(type='KNNToyModel')\n"
                f'custom_hooks = {custom_hooks}\n')
    return str(path)


def test_tools_test_end_to_end(tmp_path):
    torch.manual_seed(5)
    model = KNNToyModel()
    torch.nn.init.normal_(model.proj.weight)
    ckpt = str(tmp_path / 'epoch_1.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': dict(epoch=1)}, ckpt)
    hooks = [dict(type='KNNEvalHook', train_dataloader=loader_cfg(60, 0, types=False),
                  val_dataloader=loader_cfg(48, 1, types=False), k=200)]
    cfg = _write_config(tmp_path / 'knn_cfg.py', repr(hooks))
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    # k=200 > 60 samples in the config: --k must override it, and --cfg-options must apply
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'test.py'), cfg, ckpt, '--k', '5',
         '--cfg-options', 'custom_hooks.0.temperature=0.07'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = expected_knn(model, k=5, temperature=0.07)
    assert metrics == expected and expected != expected_knn(KNNToyModel(), 5, 0.07)


@pytest.mark.slow
@pytest.mark.dist
def test_dist_test_sh_two_cpu_processes(tmp_path):
    model = KNNToyModel()
    torch.nn.init.normal_(model.proj.weight, generator=torch.Generator().manual_seed(2))
    ckpt = str(tmp_path / 'model.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    hooks = [dict(type='KNNEvalHook', train_dataloader=loader_cfg(60, 0, types=False),
                  val_dataloader=loader_cfg(48, 1, types=False), k=7)]
    cfg = _write_config(tmp_path / 'knn_cfg.py', repr(hooks))
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()),
               PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(['bash', osp.join(REPO, 'tools', 'dist_test.sh'), cfg, ckpt, '2'],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert json.loads(lines[-1]) == expected_knn(model, k=7, temperature=0.1)
    assert sum(line.startswith('{') for line in lines) == 1  # only rank 0 prints


def test_tools_test_needs_a_knn_hook(tmp_path):
    tool = load_tool(osp.join(REPO, 'tools', 'test.py'), 'selfemb_tools_test')
    cfg = Config.fromfile(_write_config(tmp_path / 'no_knn.py',
                                        "[dict(type='EMAHook')]"))
    with pytest.raises(KeyError, match='no_knn.py has no KNNEvalHook'):
        tool.find_knn_hook(cfg)
    cfg = Config.fromfile(_write_config(tmp_path / 'knn.py', repr(
        [dict(type='EMAHook'), dict(type='selfemb.KNNEvalHook', k=3)])))
    assert tool.find_knn_hook(cfg)['k'] == 3
