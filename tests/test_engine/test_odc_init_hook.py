"""ODCInitHook: fills the bank from one extraction pass, clusters it once, not on resume."""
import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from selfemb.engine.hooks import ODCInitHook
from selfemb.evaluation.kmeans import faiss_kmeans
from selfemb.models.memories import ODCMemory

N, D, K = 30, 4, 3


def blobs() -> torch.Tensor:
    """N points around K well separated unit directions (row i in blob i % K)."""
    gen = torch.Generator().manual_seed(0)
    centres = torch.eye(D)[:K] * 5
    return centres[torch.arange(N) % K] + 0.1 * torch.randn(N, D, generator=gen)


class Toy(nn.Module):
    """embed(x) = normalise(x); the batch already is the model input."""

    def __init__(self) -> None:
        super().__init__()
        self.memory = ODCMemory(feat_dim=D, num_clusters=K)
        self.data_preprocessor = lambda batch, training: batch

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1)


def runner_for(model: nn.Module, loader=None):
    data = blobs()
    batches = [dict(inputs=data[i:i + 8], data_samples=[dict(sample_idx=j)
                                                        for j in range(i, min(i + 8, N))])
               for i in range(0, N, 8)]
    return SimpleNamespace(model=model, cfg=dict(knn_train_dataloader=batches), seed=0,
                           logger=logging.getLogger('odc-test'),
                           build_dataloader=lambda cfg, seed: cfg,
                           train_dataloader=SimpleNamespace(dataset=range(N)))


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_faiss_kmeans_finds_the_blobs_and_is_seeded():
    x = blobs().numpy()
    labels = faiss_kmeans(x, K, niter=10, seed=3)
    assert same_partition(labels, np.arange(N) % K)
    assert np.array_equal(labels, faiss_kmeans(x, K, niter=10, seed=3))
    with pytest.raises(ValueError, match='k=31'):
        faiss_kmeans(x, 31)


def test_faiss_kmeans_trains_on_every_point(monkeypatch):
    faiss = pytest.importorskip('faiss')
    made = []

    class Recording(faiss.Kmeans):
        def train(self, x, *args, **kwargs):
            made.append((self.cp.max_points_per_centroid, len(x)))
            return super().train(x, *args, **kwargs)

    monkeypatch.setattr(faiss, 'Kmeans', Recording)
    x = np.random.default_rng(0).standard_normal((600, 2)).astype(np.float32)
    faiss_kmeans(x, 2, niter=2)  # faiss' default (256 per centroid) would subsample 512
    assert made and made[0][0] >= made[0][1] == 600


def test_hook_fills_bank_from_extraction_and_clusters_once():
    model = Toy()
    model.memory.setup(N, seed=0)
    runner = runner_for(model)
    hook = ODCInitHook(dataloader='knn_train_dataloader', niter=10)
    hook.before_run(runner)
    hook.before_train(runner)
    memory = model.memory
    torch.testing.assert_close(memory.bank, F.normalize(blobs(), dim=1))
    assert bool(memory.initialized)
    assert same_partition(memory.labels.numpy(), np.arange(N) % K)
    for c in range(K):
        torch.testing.assert_close(memory.centroids[c], memory.bank[memory.labels == c].mean(0))
    # a resumed run (initialized restored from the checkpoint) is not re-clustered
    memory.labels[:] = 0
    hook.before_train(runner)
    assert (memory.labels == 0).all()


def test_hook_without_loader_clusters_the_initial_bank():
    model = Toy()
    model.memory.setup(N, seed=0)
    bank = model.memory.bank.clone()
    ODCInitHook(dataloader=None, niter=5).before_train(runner_for(model))
    assert torch.equal(model.memory.bank, bank) and bool(model.memory.initialized)
    expected = faiss_kmeans(bank.numpy(), K, niter=5, seed=0)
    assert np.bincount(expected, minlength=K).min() > 0  # nothing to refill
    assert np.array_equal(model.memory.labels.numpy(), expected)


def test_hook_checks_the_training_set_and_the_model():
    model = Toy()
    model.memory.setup(20, seed=0)  # the loader gives 30 samples
    with pytest.raises(ValueError, match='30 distinct samples, the training set has 20'):
        ODCInitHook().before_train(runner_for(model))
    with pytest.raises(TypeError, match='one ODCMemory'):
        ODCInitHook().before_run(runner_for(nn.Linear(2, 2)))
