"""SelfembRunner in real tiny runs: run identity, checkpoints that load only into their
model, relative last_checkpoint, finished and empty runs, the monitor after the save."""
import shutil
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from selfemb.engine.model_loading import CheckpointMismatchError
from selfemb.engine.runner import RunFinishedError, build_runner, default_work_dir

ROOT = Path(__file__).resolve().parents[2]


def tiny_cfg(config: str, work_dir: Path, data_root: Path, **options) -> Config:
    cfg = Config.fromfile(ROOT / config)
    opts = {'train_dataloader.batch_size': 16, 'train_cfg.max_epochs': 1,
            'default_hooks.checkpoint.interval': 1, 'default_hooks.logger.interval': 1,
            'custom_hooks.knn.k': 5}
    for key in ('train_dataloader', 'knn_train_dataloader', 'knn_val_dataloader'):
        opts[f'{key}.dataset.data_root'] = str(data_root)
    opts.update(options)
    cfg.merge_from_dict(opts)
    cfg.work_dir = str(work_dir)
    return cfg


def train(config: str, work_dir: Path, data_root: Path, **options):
    runner = build_runner(tiny_cfg(config, work_dir, data_root, **options))
    runner.train()
    return runner


@pytest.fixture(scope='module')
def isif_run(tmp_path_factory, tiny_fmnist) -> Path:
    work_dir = tmp_path_factory.mktemp('isif')
    train('configs/isif/r18_fmnist.py', work_dir, tiny_fmnist)
    return work_dir


def test_default_work_dir_is_unique_per_config():
    assert default_work_dir('configs/isif/r18_fmnist.py') == 'work_dirs/isif/r18_fmnist'
    assert default_work_dir('configs/npid/r18_fmnist.py') == 'work_dirs/npid/r18_fmnist'
    assert (default_work_dir('configs/benchmarks/linear/r18_fmnist.py')
            == 'work_dirs/benchmarks/linear/r18_fmnist')
    assert default_work_dir('/tmp/mine/my_cfg.py') == 'work_dirs/mine/my_cfg'


def test_checkpoint_records_what_made_it(isif_run):
    checkpoint = torch.load(isif_run / 'epoch_1.pth', map_location='cpu', weights_only=True)
    identity = checkpoint['meta']['selfemb']
    assert identity['algorithm'] == 'ISIF' and identity['dataset_length'] == 64
    assert identity['config'].endswith('configs/isif/r18_fmnist.py') and identity['version']
    assert (isif_run / 'last_checkpoint').read_text().strip() == 'epoch_1.pth'


def test_resume_refuses_another_methods_checkpoint(isif_run, tiny_fmnist, tmp_path):
    work_dir = tmp_path / 'shared'
    shutil.copytree(isif_run, work_dir)
    cfg = tiny_cfg('configs/npid/r18_fmnist.py', work_dir, tiny_fmnist,
                   **{'train_cfg.max_epochs': 2})
    cfg.resume = True
    with pytest.raises(CheckpointMismatchError) as err:
        build_runner(cfg).train()
    message = str(err.value)
    assert 'algorithm ISIF in the checkpoint, NPID in the model' in message
    assert 'memory.bank' in message and '--allow-mismatch' in message
    assert not (work_dir / 'epoch_2.pth').exists()


def test_load_from_another_model_only_when_allowed(isif_run, tiny_fmnist, tmp_path):
    options = {'load_from': str(isif_run / 'epoch_1.pth'),
               'model.neck.out_channels': 64}  # another architecture of the same method
    with pytest.raises(CheckpointMismatchError, match=r'mismatched key\(s\).*neck'):
        train('configs/isif/r18_fmnist.py', tmp_path / 'a', tiny_fmnist, **options)
    runner = train('configs/isif/r18_fmnist.py', tmp_path / 'b', tiny_fmnist,
                   allow_mismatch=True, **options)
    assert (tmp_path / 'b/epoch_1.pth').exists() and runner.epoch == 1


def test_moved_work_dir_resumes_and_finished_run_says_so(isif_run, tiny_fmnist, tmp_path):
    moved = tmp_path / 'moved'
    shutil.copytree(isif_run, moved)
    cfg = tiny_cfg('configs/isif/r18_fmnist.py', moved, tiny_fmnist)
    cfg.resume = True
    with pytest.raises(RunFinishedError, match=r'already finished.*train_cfg.max_epochs=2'):
        build_runner(cfg).train()
    cfg = tiny_cfg('configs/isif/r18_fmnist.py', moved, tiny_fmnist,
                   **{'train_cfg.max_epochs': 2})
    cfg.resume = True
    runner = build_runner(cfg)
    runner.train()
    assert runner.epoch == 2 and (moved / 'epoch_2.pth').exists()
    assert (moved / 'last_checkpoint').read_text().strip() == 'epoch_2.pth'


def test_a_loader_without_a_batch_is_an_error(tiny_fmnist, tmp_path):
    with pytest.raises(ValueError, match=r'yields no batch: 8 samples.*batch_size 16'):
        train('configs/isif/r18_fmnist.py', tmp_path, tiny_fmnist,
              **{'train_dataloader.dataset.indices': 8})
    assert not list(tmp_path.glob('*.pth'))


def test_monitor_failure_keeps_the_epoch(tiny_fmnist, tmp_path, monkeypatch):
    from selfemb.engine.hooks import knn_eval_hook

    def broken(*args, **kwargs):
        raise OSError('corrupt test image')
    monkeypatch.setattr(knn_eval_hook, 'knn_evaluate', broken)
    with pytest.raises(OSError, match='corrupt test image'):
        train('configs/isif/r18_fmnist.py', tmp_path, tiny_fmnist,
              **{'default_hooks.checkpoint.interval': 5, 'train_cfg.max_epochs': 3})
    assert (tmp_path / 'epoch_1.pth').exists()
    assert (tmp_path / 'last_checkpoint').read_text().strip() == 'epoch_1.pth'
