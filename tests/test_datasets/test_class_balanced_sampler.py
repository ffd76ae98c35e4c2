"""ClassBalancedSampler: uniform over pseudo classes, rank shards, determinism, resume."""
import pytest
import torch

from selfemb.datasets import ClassBalancedSampler
from selfemb.registry import DATA_SAMPLERS

LABELS = torch.tensor([0] * 70 + [1] * 20 + [2] * 9 + [4] * 1)  # class 3 empty


def make(rank=0, world=1, epoch=0, labels=LABELS, seed=7, **kwargs):
    sampler = DATA_SAMPLERS.build(dict(type='ClassBalancedSampler', seed=seed, **kwargs),
                                  default_args=dict(dataset=range(len(labels))))
    if world > 1:  # as built on rank `rank` of `world` processes
        sampler.rank, sampler.world_size = rank, world
        sampler.num_samples = -(-len(labels) // world)
        sampler.total_size = sampler.num_samples * world
    sampler.set_epoch(epoch)
    sampler.set_labels(labels)
    return sampler


def test_equal_draws_per_nonempty_class():
    draws = torch.tensor(list(make()))
    assert len(draws) == 100
    per_class = torch.bincount(LABELS[draws], minlength=5)
    assert per_class[3] == 0
    nonempty = per_class[[0, 1, 2, 4]]
    assert int(nonempty.max() - nonempty.min()) <= 1  # 100 = 4 x 25
    big = draws[LABELS[draws] == 0]
    assert len(set(big.tolist())) == len(big)  # a subset of the large class, no repeats
    small = torch.bincount(draws[LABELS[draws] == 2], minlength=99)[90:99]
    assert int(small.min()) >= 2 and int(small.max()) <= 3  # every member, 25 / 9 times


def test_uniform_over_many_classes_statistics():
    labels = torch.randint(0, 50, (5000, ), generator=torch.Generator().manual_seed(0)) ** 2 % 50
    draws = torch.tensor(list(make(labels=labels)))
    counts = torch.bincount(labels[draws], minlength=50)
    nonempty = counts[torch.bincount(labels, minlength=50) > 0]
    assert int(nonempty.max() - nonempty.min()) <= 1


def test_ranks_are_disjoint_shards_of_one_permutation():
    full = list(make())
    shards = [list(make(rank=r, world=4)) for r in range(4)]
    assert all(len(s) == 25 for s in shards)
    interleaved = [shards[i % 4][i // 4] for i in range(100)]
    assert interleaved == full  # the same global list, position p on rank p % 4


def test_deterministic_and_restorable():
    a = list(make(epoch=3))
    assert a == list(make(epoch=3))  # a fresh sampler (resume) with the same state
    assert a != list(make(epoch=4))
    assert a != list(make(epoch=3, labels=LABELS.flip(0)))
    assert len(make(num_samples=40)) == 40


def test_errors():
    sampler = ClassBalancedSampler(range(5), seed=0)
    with pytest.raises(RuntimeError, match='UICLabelHook'):
        iter(sampler)
    with pytest.raises(ValueError, match='one label per sample'):
        sampler.set_labels(torch.zeros(4, dtype=torch.long))
