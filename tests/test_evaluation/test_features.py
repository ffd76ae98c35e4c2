"""extract_features: stage / backbone / embedding features equal a direct forward, in
dataset order, also from two gloo processes; load_npy_pair reads and checks .npy files."""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.structures import BaseDataElement
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from selfemb.apis import build_model_from_cfg
from selfemb.evaluation import dataset_labels, extract_features, load_npy_pair
from tests._dist_utils import run_in_processes

ROOT = Path(__file__).resolve().parents[2]


class ToyImages(Dataset):
    """n random 3x16x16 images, labels i % 3, each sample carrying its sample_idx."""

    def __init__(self, n: int) -> None:
        self.images = torch.randn(n, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        self.labels = np.arange(n) % 3

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.images[i], data_samples=BaseDataElement(metainfo=dict(
            sample_idx=i)))

    def get_gt_labels(self) -> np.ndarray:
        return self.labels


class StackInputs(torch.nn.Module):
    def forward(self, data: dict, training: bool = False) -> dict:
        return dict(inputs=[torch.stack(data['inputs'])], data_samples=data['data_samples'])


def toy_model(config: str) -> torch.nn.Module:
    torch.manual_seed(0)  # the same weights in every process
    model = build_model_from_cfg(Config.fromfile(ROOT / config))
    model.data_preprocessor = StackInputs()
    for m in model.modules():  # non-trivial running statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model


def loader(ds, batch_size=4, round_up=True):
    sampler = DefaultSampler(ds, shuffle=True, seed=0, round_up=round_up)
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, collate_fn=pseudo_collate)


def direct_stages(trunk: torch.nn.Module, x: torch.Tensor) -> tuple:
    """All four stage outputs of an mmpretrain ResNet, by its own out_indices."""
    saved, trunk.out_indices = trunk.out_indices, (0, 1, 2, 3)
    was_training = trunk.training
    trunk.eval()  # (mmpretrain's ResNet.train returns None: no chaining)
    try:
        with torch.no_grad():
            return trunk(x)
    finally:
        trunk.out_indices = saved
        trunk.train(was_training)


def test_features_equal_a_direct_forward():
    ds, model = ToyImages(11), toy_model('configs/npid/r18_cifar10.py').train()
    layers = ['res2', 'res3', 'res4', 'res5', 'backbone', 'embedding']
    out = extract_features(model, loader(ds), layers, progress=True)
    assert model.training  # eval inside, mode restored
    assert np.array_equal(out['sample_idx'], np.arange(11))
    stages = direct_stages(model.backbone, ds.images)
    for name, stage in zip(layers[:4], stages):
        assert out[name].dtype == np.float32 and out[name].shape == (11, stage.shape[1])
        np.testing.assert_allclose(out[name], stage.mean(dim=(2, 3)).numpy(), atol=1e-5)
    np.testing.assert_allclose(out['backbone'], out['res5'], atol=1e-6)
    with torch.no_grad():
        emb = model.eval().embed(ds.images)
    np.testing.assert_allclose(out['embedding'], emb.numpy(), atol=1e-5)
    pooled = extract_features(model, loader(ds, 5), ['res4'], pool_size=2)['res4']
    expected = F.adaptive_avg_pool2d(stages[2], 2).flatten(1).numpy()
    assert pooled.shape == (11, 256 * 4)
    np.testing.assert_allclose(pooled, expected, atol=1e-5)
    assert np.array_equal(dataset_labels(ds, out['sample_idx']), ds.labels)


def test_sobel_backbone_stages_come_from_the_rgb_trunk():
    ds, model = ToyImages(6), toy_model('configs/super_and/r18_cifar10.py')
    out = extract_features(model, loader(ds), ['res5', 'backbone'])
    rgb = direct_stages(model.backbone.trunk, ds.images)[3].mean(dim=(2, 3))
    np.testing.assert_allclose(out['res5'], rgb.numpy(), atol=1e-5)
    assert out['backbone'].shape == (6, 1024)  # RGB + Sobel trunks, concatenated
    np.testing.assert_allclose(out['backbone'][:, :512], out['res5'], atol=1e-6)


def test_bad_arguments():
    ds, model = ToyImages(3), toy_model('configs/npid/r18_cifar10.py')
    with pytest.raises(ValueError, match=r"unknown layers \['res6'\]"):
        extract_features(model, loader(ds), ['res5', 'res6'])
    with pytest.raises(ValueError, match='pool_size must be >= 1'):
        extract_features(model, loader(ds), ['res5'], pool_size=0)
    del model.backbone.layer4
    with pytest.raises(ValueError, match=r"'res5': backbone ResNet_CIFAR has no layer4"):
        extract_features(model, loader(ds), ['res5'])
    assert dataset_labels(torch.utils.data.TensorDataset(torch.zeros(3)), np.arange(3)) is None


def _two_process_job(n: int) -> dict:
    model = DistributedDataParallel(toy_model('configs/npid/r18_cifar10.py'))
    return dict(padded=extract_features(model, loader(ToyImages(n)), ['res3', 'embedding']),
                uneven=extract_features(model, loader(ToyImages(n), 3, round_up=False),
                                        ['res3', 'embedding'], all_ranks=False))


def test_load_npy_pair(tmp_path):
    np.save(tmp_path / 'f.npy', np.arange(6, dtype=np.float64).reshape(3, 2))
    np.save(tmp_path / 'l.npy', np.array([0, 1, 1], dtype=np.int32))
    feats, labels = load_npy_pair(str(tmp_path / 'f.npy'), str(tmp_path / 'l.npy'))
    assert feats.dtype == np.float32 and feats.shape == (3, 2)
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 1]
    assert load_npy_pair(str(tmp_path / 'f.npy'), None)[1] is None
    with pytest.raises(FileNotFoundError, match='missing.npy'):
        load_npy_pair(str(tmp_path / 'f.npy'), str(tmp_path / 'missing.npy'))
    np.save(tmp_path / 'short.npy', np.zeros(2))
    with pytest.raises(ValueError, match=r'expected \(3,\) labels'):
        load_npy_pair(str(tmp_path / 'f.npy'), str(tmp_path / 'short.npy'))
    with pytest.raises(ValueError, match=r'expected \(N, C\) features'):
        load_npy_pair(str(tmp_path / 'short.npy'), None)


@pytest.mark.slow  # ~40 s on 2 shared cores (two fresh interpreters)
@pytest.mark.dist
def test_two_processes_equal_one():
    n = 9  # odd: padding duplicates one sample with round_up, uneven shards without
    single = extract_features(toy_model('configs/npid/r18_cifar10.py'), loader(ToyImages(n)),
                              ['res3', 'embedding'])
    ranks = run_in_processes(_two_process_job, 2, n)
    assert ranks[1]['uneven'] == {}  # all_ranks=False: only the main process keeps them
    for out in (ranks[0]['padded'], ranks[1]['padded'], ranks[0]['uneven']):
        assert np.array_equal(out['sample_idx'], np.arange(n))
        for name in ('res3', 'embedding'):
            np.testing.assert_allclose(out[name], single[name], atol=1e-5)
