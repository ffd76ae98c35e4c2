"""The GPU input path keeps the sampling guarantees of the CPU one: each image once per
epoch per rank (2 gloo ranks), the same order for the same seed, an exact resume from a
checkpoint saved inside an epoch (with ResumableSampler and with mmengine's DefaultSampler),
and the kNN loaders."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from selfemb.engine.runner import build_runner
from tests._dist_utils import run_in_processes
from tests.tool_loader import load_tool

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs/cld/r50_in100_gpu.py'
TOOL = ROOT / 'tools/dataset_converters/make_synthetic_jpegs.py'


@pytest.fixture(scope='module')
def jpeg_root(tmp_path_factory) -> Path:
    tool = load_tool(TOOL, 'make_synthetic_jpegs')
    root = tmp_path_factory.mktemp('jpegs')
    tool.main([str(root), '--classes', '3', '--train-per-class', '5', '--val-per-class', '2'])
    return root


def tiny_cfg(root: Path, work_dir: Path, **options) -> Config:
    """r50_in100_gpu.py on 15 JPEGs: ResNet-18, 32 px crops, batches of 4, 2 epochs."""
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({
        'train_dataloader.dataset.data_root': str(root),
        'knn_train_dataloader.dataset.data_root': str(root),
        'knn_val_dataloader.dataset.data_root': str(root),
        'train_dataloader.batch_size': 4, 'train_dataloader.num_workers': 0,
        'knn_train_dataloader.num_workers': 0, 'knn_val_dataloader.num_workers': 0,
        'data_preprocessor.crop_size': 32, 'data_preprocessor.test_resize': 36,
        'model.backbone.depth': 18, 'model.neck.in_channels': 512,
        'model.group_head.num_groups': 2, 'model.instance_head.num_negatives': 8,
        'train_cfg.max_epochs': 2, 'custom_hooks.knn.interval': 2, 'custom_hooks.knn.k': 3,
        'default_hooks.logger.interval': 1, 'env_cfg.cudnn_benchmark': False,
        **options})
    cfg.work_dir = str(work_dir)
    return cfg


def final_state(runner) -> dict:
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


@pytest.mark.parametrize('sampler', [
    'ResumableSampler', pytest.param('DefaultSampler', marks=pytest.mark.slow)])
def test_resume_inside_an_epoch_is_exact(jpeg_root, tmp_path, sampler):
    # 15 images, batches of 4, drop_last: 3 iterations an epoch; checkpoints every 2
    # iterations, so iter_4.pth lies inside the second epoch
    options = {'train_dataloader.sampler.type': sampler,
               'default_hooks.checkpoint.by_epoch': False,
               'default_hooks.checkpoint.interval': 2, 'default_hooks.checkpoint.max_keep_ckpts': 5}
    whole = build_runner(tiny_cfg(jpeg_root, tmp_path / 'whole', **options))
    whole.train()
    assert (tmp_path / 'whole/iter_4.pth').exists() and whole.iter == 6
    cfg = tiny_cfg(jpeg_root, tmp_path / 'resumed', **options)
    cfg.resume, cfg.load_from = True, str(tmp_path / 'whole/iter_4.pth')
    resumed = build_runner(cfg)
    resumed.train()
    assert type(resumed.train_loop).__name__ == 'ResumableEpochBasedTrainLoop'
    assert resumed.iter == 6 and resumed.epoch == 2
    expected, got = final_state(whole), final_state(resumed)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    assert whole.message_hub.get_info('knn')['knn_top1'] == \
        resumed.message_hub.get_info('knn')['knn_top1']


def test_resumable_sampler_skips_once():
    from selfemb.datasets import ResumableSampler
    sampler = ResumableSampler(list(range(10)), shuffle=True, seed=3)
    order = list(sampler)
    sampler.skip_once(4)
    assert list(sampler) == order[4:]
    assert list(sampler) == order  # only once
    with pytest.raises(ValueError, match='cannot skip 11'):
        sampler.skip_once(11)


def epoch_indices(root: str, work_dir: str) -> list:
    """The sample indices each of 2 epochs of the train loader gives this rank, for two
    loaders built from the same config."""
    cfg = tiny_cfg(Path(root), Path(work_dir))
    cfg.launcher = 'pytorch'
    cfg.model_wrapper_cfg = dict(cfg.model_wrapper_cfg, device_ids=None)
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    runner = build_runner(cfg)
    runs = []
    for _ in range(2):
        loader = runner.build_dataloader(cfg.train_dataloader, seed=runner.seed)
        epochs = []
        for epoch in range(2):
            loader.sampler.set_epoch(epoch)
            epochs.append([s.sample_idx for batch in loader for s in batch['data_samples']])
        runs.append(epochs)
    return runs


def test_two_ranks_see_each_image_once_per_epoch(jpeg_root, tmp_path):
    runs = run_in_processes(epoch_indices, 2, str(jpeg_root), str(tmp_path / 'dist'),
                            timeout=300.0)
    ranks = [rank_runs[0] for rank_runs in runs]
    for epoch in range(2):
        first, second = ranks[0][epoch], ranks[1][epoch]
        # 15 images padded to 16 over 2 ranks: 8 a rank, each at most once
        assert len(first) == len(set(first)) == len(second) == len(set(second)) == 8
        assert set(first) | set(second) == set(range(15))
    assert ranks[0][0] != ranks[0][1]  # reshuffled each epoch
    assert [rank_runs[1] for rank_runs in runs] == ranks  # same seed, same order
