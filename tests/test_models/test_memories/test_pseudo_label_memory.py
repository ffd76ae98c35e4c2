"""PseudoLabelMemory: sizing, recording, checkpoints, identical buffers on 2 gloo ranks."""
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest
import torch

from selfemb.datasets import ClassBalancedSampler
from selfemb.engine.hooks import MemoryInitHook
from selfemb.engine.hooks.uic_label_hook import next_labels
from selfemb.models.memories import PseudoLabelMemory
from selfemb.models.utils import random_labels
from tests._dist_utils import run_in_processes


def test_setup_record_and_set_labels():
    memory = PseudoLabelMemory(num_classes=4)
    with pytest.raises(RuntimeError, match='MemoryInitHook'):
        memory.targets(torch.tensor([0]))
    memory.setup(10, seed=1)
    assert memory.labels.shape == (10, ) and int(memory.label_epoch) == 0
    memory.record(torch.tensor([3, 5, 3]), torch.tensor([2, 1, 0]))
    assert memory.predictions.tolist() == [-1, -1, -1, 2, -1, 1, -1, -1, -1, -1]
    memory.set_labels(torch.arange(10) % 4, epoch=1)
    assert int(memory.label_epoch) == 1 and bool((memory.predictions == -1).all())
    with pytest.raises(ValueError, match=r'\[0, 4\)'):
        memory.set_labels(torch.full((10, ), 4), epoch=2)


def test_more_classes_than_samples_is_a_clear_error():
    with pytest.raises(ValueError, match='num_classes=30 for 20 samples'):
        PseudoLabelMemory(num_classes=30).setup(20, seed=0)


def test_checkpoint_round_trip_and_size_check():
    memory = PseudoLabelMemory(num_classes=3)
    memory.setup(6, seed=0)
    memory.record(torch.tensor([1]), torch.tensor([2]))
    fresh = PseudoLabelMemory(num_classes=3)  # unsized (tools/test.py): adopts the size
    fresh.load_state_dict(memory.state_dict())
    assert torch.equal(fresh.labels, memory.labels)
    assert torch.equal(fresh.predictions, memory.predictions)
    other = PseudoLabelMemory(num_classes=3)
    other.setup(7, seed=0)
    with pytest.raises(RuntimeError, match='incompatible checkpoint'):
        other.load_state_dict(memory.state_dict())


def _two_ranks() -> dict:
    """Each rank records its own batch; both must end with the same buffers and labels,
    and the sampler must give each rank a disjoint shard of one global list."""
    rank = torch.distributed.get_rank()
    memory = PseudoLabelMemory(num_classes=5)
    memory.setup(40, seed=3)
    for step in range(3):
        indices = torch.arange(4) + 8 * step + 4 * rank  # disjoint per rank
        memory.record(indices, (indices * (rank + 2)) % 5)
    labels, _ = next_labels(memory.labels, memory.predictions, 5)
    sampler = ClassBalancedSampler(range(40), seed=11)
    sampler.set_epoch(2)
    sampler.set_labels(labels)
    return dict(predictions=memory.predictions.clone(), labels=labels, order=list(sampler))


@pytest.mark.dist
def test_two_gloo_ranks_hold_identical_label_buffers():
    first, second = run_in_processes(_two_ranks, 2)
    assert torch.equal(first['predictions'], second['predictions'])
    assert torch.equal(first['labels'], second['labels'])
    expected = torch.full((40, ), -1, dtype=torch.long)
    for rank in range(2):
        for step in range(3):
            idx = torch.arange(4) + 8 * step + 4 * rank
            expected[idx] = (idx * (rank + 2)) % 5
    assert torch.equal(first['predictions'], expected)  # both ranks' batches recorded
    assert len(first['order']) == len(second['order']) == 20
    single = ClassBalancedSampler(range(40), seed=11)
    single.set_epoch(2)
    single.set_labels(first['labels'])
    merged = [o for pair in zip(first['order'], second['order']) for o in pair]
    assert merged == list(single)  # rank r holds positions r, r + 2, ... of one list


class _WithMemory(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.memory = PseudoLabelMemory(num_classes=5)

    def memories(self):
        return [self.memory]


def _init_with_rank_seed() -> dict:
    """MemoryInitHook on a stand-in runner whose seed is ``5 + rank``, as mmengine's with
    ``randomness.diff_rank_seed=True``."""
    rank = torch.distributed.get_rank()
    model = _WithMemory()
    runner = SimpleNamespace(model=model, seed=5 + rank, logger=MagicMock(),
                             train_dataloader=SimpleNamespace(dataset=range(40)))
    MemoryInitHook().before_run(runner)
    return dict(seed=runner.seed, labels=model.memory.labels.clone())


@pytest.mark.dist
def test_initial_labels_use_rank_0_seed_on_every_rank():
    first, second = run_in_processes(_init_with_rank_seed, 2)
    assert (first['seed'], second['seed']) == (5, 6)
    assert torch.equal(first['labels'], random_labels(40, 5, seed=5))
    assert torch.equal(second['labels'], first['labels'])
