"""Weighted kNN against a float64 loop reference, and feature extraction in 1 and 2 processes."""
import importlib.util
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.structures import BaseDataElement
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from selfemb.evaluation.features import extract_embeddings
from selfemb.evaluation.knn import knn_evaluate, weighted_knn
from tests._dist_utils import run_in_processes

HAS_FAISS = importlib.util.find_spec('faiss') is not None
BACKENDS = ['torch', pytest.param('faiss', marks=pytest.mark.skipif(not HAS_FAISS,
                                                                   reason='needs faiss'))]


def reference_knn(train, train_labels, test, test_labels, k, temperature, num_classes):
    """Wu et al. 2018 weighted kNN, one query at a time in float64."""
    train = train.astype(np.float64) / np.linalg.norm(train, axis=1, keepdims=True)
    test = test.astype(np.float64) / np.linalg.norm(test, axis=1, keepdims=True)
    top1 = top5 = 0
    for query, label in zip(test, test_labels):
        sims = train @ query
        scores = {}
        for i in np.argsort(-sims, kind='stable')[:k]:
            c = train_labels[i]
            scores[c] = scores.get(c, 0.0) + math.exp(sims[i] / temperature)
        ranking = sorted(scores, key=lambda c: (-scores[c], c))  # classes with votes
        top1 += ranking[0] == label
        top5 += label in ranking[:min(5, num_classes)]
    return 100.0 * top1 / len(test), 100.0 * top5 / len(test)


def clustered(n, num_classes=10, dim=16, noise=1.8, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(123).normal(size=(num_classes, dim))
    labels = rng.integers(0, num_classes, size=n)
    return (centres[labels] + noise * rng.normal(size=(n, dim))).astype(np.float32), labels


@pytest.fixture(scope='module')
def data():
    (train, ytr), (test, yte) = clustered(500, seed=1), clustered(120, seed=2)
    return train, ytr, test, yte


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('k,temperature', [(1, 0.1), (7, 0.07), (200, 0.1), (500, 0.5),
                                           (50, 0.01)])
def test_matches_float64_reference(data, backend, k, temperature):
    train, ytr, test, yte = data
    top1, top5 = reference_knn(train, ytr, test, yte, k, temperature, 10)
    assert 20 < top1 < 95 and top1 <= top5  # not a trivial problem
    got = weighted_knn(torch.from_numpy(train), torch.from_numpy(ytr), test, yte, k=k,
                       temperature=temperature, backend=backend)
    assert got == pytest.approx(dict(knn_top1=top1, knn_top5=top5), abs=1e-9)


def test_backends_and_chunks_agree(data):
    train, ytr, test, yte = data
    results = [weighted_knn(train, ytr, test, yte, k=20, chunk_size=c, backend=b)
               for b in ('auto', 'torch') for c in (None, 1, 7, 10_000)]
    assert all(r == results[0] for r in results)
    # scaling the features changes nothing: they are L2-normalised inside
    assert weighted_knn(train * 3, ytr, test * 0.5, yte, k=20) == results[0]


def test_top5_with_fewer_classes_and_num_classes():
    feats = torch.tensor([[1., 0.], [0.9, 0.1], [0., 1.], [0.1, 0.9]])
    labels = torch.tensor([0, 0, 1, 1])
    assert weighted_knn(feats, labels, feats, labels, k=2) == dict(knn_top1=100., knn_top5=100.)
    # equal class scores: the lower class index ranks first
    tie = torch.tensor([[1., 1.]])
    train = torch.tensor([[1., 0.], [0., 1.]])
    assert weighted_knn(train, [1, 0], tie, [0], k=2)['knn_top1'] == 100.
    assert weighted_knn(train, [1, 0], tie, [1], k=2) == dict(knn_top1=0., knn_top5=100.)
    # a class that gets no vote is never predicted, even at top-5
    flipped = weighted_knn(feats, labels, feats, 1 - labels, k=2, num_classes=7)
    assert flipped == dict(knn_top1=0., knn_top5=0.)


@pytest.mark.parametrize('kwargs,match', [
    (dict(k=501), 'k=501'), (dict(k=0), 'k=0'), (dict(temperature=0), 'temperature'),
    (dict(num_classes=5), 'num_classes=5'), (dict(backend='annoy'), 'backend'),
    (dict(chunk_size=0), 'chunk_size')])
def test_bad_arguments(data, kwargs, match):
    train, ytr, test, yte = data
    with pytest.raises(ValueError, match=match):
        weighted_knn(train, ytr, test, yte, **kwargs)


def test_bad_inputs(data):
    train, ytr, test, yte = data
    with pytest.raises(ValueError, match='D=16.*D=8'):
        weighted_knn(train, ytr, test[:, :8], yte)
    with pytest.raises(ValueError, match='train_labels'):
        weighted_knn(train, ytr[:-1], test, yte)
    with pytest.raises(ValueError, match='test_feats must be a non-empty'):
        weighted_knn(train, ytr, test[:0], yte[:0])
    with pytest.raises(ValueError, match='NaN'):
        weighted_knn(np.where(train > 2, np.nan, train), ytr, test, yte)
    with pytest.raises(ValueError, match='integers'):
        weighted_knn(train, ytr.astype(np.float32), test, yte)


class ToyImages(Dataset):
    """Images 3×4×4 around one of 3 class centres; labels i % 3."""

    def __init__(self, n: int, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.labels = np.arange(n) % 3
        centres = torch.randn(3, 3, 4, 4, generator=torch.Generator().manual_seed(7))
        self.images = centres[self.labels] + 0.3 * torch.randn(n, 3, 4, 4, generator=g)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        sample = BaseDataElement(metainfo=dict(sample_idx=i))
        return dict(inputs=self.images[i], data_samples=sample)

    def get_gt_labels(self) -> np.ndarray:
        return self.labels


class StackInputs(torch.nn.Module):
    def forward(self, data: dict, training: bool = False) -> dict:
        return dict(inputs=[torch.stack(data['inputs'])], data_samples=data['data_samples'])


class TinyEmbedder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.data_preprocessor = StackInputs()
        self.proj = torch.nn.Linear(48, 5)
        g = torch.Generator().manual_seed(3)  # same weights in every process
        torch.nn.init.normal_(self.proj.weight, generator=g)
        torch.nn.init.normal_(self.proj.bias, generator=g)
        self.modes = []

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        self.modes.append(self.training)
        return F.normalize(self.proj(x.flatten(1)), dim=1)

    def extract_feat(self, x: torch.Tensor) -> tuple:
        return x[:, :1], x * 3.0


def loader(ds, batch_size=4, shuffle=True, round_up=True):
    sampler = DefaultSampler(ds, shuffle=shuffle, seed=0, round_up=round_up)
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, collate_fn=pseudo_collate)


def test_extract_embeddings_single_process():
    ds, model = ToyImages(13), TinyEmbedder().train()
    feats, idx = extract_embeddings(model, loader(ds), progress=True)
    assert feats.dtype == torch.float32 and idx.dtype == torch.int64
    assert torch.equal(idx, torch.arange(13))
    with torch.no_grad():
        torch.testing.assert_close(feats, model.embed(ds.images))
    assert model.training and not any(model.modes[:-1])  # eval inside, train restored
    back, _ = extract_embeddings(model.eval(), loader(ds, 5), feature='backbone')
    torch.testing.assert_close(back, 3 * ds.images.mean(dim=(2, 3)))
    assert not model.training
    with pytest.raises(ValueError, match="feature must be"):
        extract_embeddings(model, loader(ds), feature='neck')


def test_knn_evaluate_checks_before_extracting():
    ds, model = ToyImages(13), TinyEmbedder()
    with pytest.raises(ValueError, match=r'k=14 .*\(13 in ToyImages\)'):
        knn_evaluate(model, loader(ds), loader(ds), k=14)
    unlabeled = torch.utils.data.TensorDataset(torch.zeros(3, 48))
    with pytest.raises(TypeError, match='val dataset TensorDataset has no get_gt_labels'):
        knn_evaluate(model, loader(ds), loader(unlabeled), k=3)
    assert model.modes == []  # nothing was extracted
    result = knn_evaluate(model, loader(ds), loader(ToyImages(9, seed=1)), k=4)
    assert result['knn_top1'] > 50 and len(model.modes) > 0


def _two_process_job(n: int) -> dict:
    ds, model = ToyImages(n), DistributedDataParallel(TinyEmbedder())
    out = dict(padded=extract_embeddings(model, loader(ds, round_up=True)),
               uneven=extract_embeddings(model, loader(ds, 3, round_up=False)),
               knn=knn_evaluate(model, loader(ds), loader(ToyImages(9, seed=1)), k=4))
    try:
        knn_evaluate(model, loader(ds), loader(ds), k=3, num_classes=2)  # labels go up to 2
    except ValueError as err:  # raised on rank 0, re-raised on every rank
        out['error'] = str(err)
    return out


@pytest.mark.dist
def test_extract_and_knn_in_two_processes():
    n = 13  # odd: DefaultSampler pads one duplicate with round_up, uneven shards without
    ranks = run_in_processes(_two_process_job, 2, n)
    ds, model = ToyImages(n), TinyEmbedder()
    feats, idx = extract_embeddings(model, loader(ds))
    query_feats, _ = extract_embeddings(model, loader(ToyImages(9, seed=1)))
    expected = weighted_knn(feats, ds.labels, query_feats, np.arange(9) % 3, k=4)
    for out in ranks:
        for key in ('padded', 'uneven'):
            torch.testing.assert_close(out[key][0], feats, rtol=1e-6, atol=1e-6)
            assert torch.equal(out[key][1], idx)
        assert out['knn'] == expected
        assert 'num_classes=2' in out['error']
