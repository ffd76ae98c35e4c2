"""ISIF's nearest-neighbour positives: pair dataset, memory, hook (a real tiny Runner with
configs/isif/r50_cub200_unseen.py) and identical partners on 2 gloo ranks."""
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

import selfemb.engine.hooks.neighbour_positive_hook as hook_module
from selfemb.datasets import NeighbourPairDataset
from selfemb.engine.hooks import NeighbourPositiveHook
from selfemb.engine.runner import build_runner
from selfemb.evaluation.features import extract_features
from selfemb.models.memories import NeighbourPositiveMemory
from tests._dist_utils import run_in_processes
from tests.test_configs.test_config_smoke import OVERRIDES, shrink
from tests.test_configs.tiny_data import write_cub200

ROOT = Path(__file__).resolve().parents[2]


class Views:
    """Stand-in source: image ``i``'s single view is the tensor ``[i]``."""

    def __init__(self, n=5, views=1):
        self.n, self.views = n, views

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        view = torch.tensor([float(i)])
        return dict(inputs=[view] * self.views if self.views > 1 else view, data_samples=i)


def test_pair_dataset_second_view_comes_from_the_partner():
    pairs = NeighbourPairDataset(Views())
    item = pairs[2]
    assert [float(v) for v in item['inputs']] == [2.0, 2.0] and item['data_samples'] == 2
    pairs.set_partners(np.array([1, 0, 4, 3, 2]))
    item = pairs[2]
    assert [float(v) for v in item['inputs']] == [2.0, 4.0] and item['data_samples'] == 2
    with pytest.raises(ValueError, match=r'5 indices in \[0, 5\)'):
        pairs.set_partners(np.array([0, 1, 2, 3, 5]))
    with pytest.raises(ValueError, match='one view per image, got 2'):
        NeighbourPairDataset(Views(views=2))[0]


def test_memory_checks_and_state_dict_round_trip():
    memory = NeighbourPositiveMemory()
    with pytest.raises(RuntimeError, match='not set up'):
        memory.set_partners(0, torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    memory.setup(4)
    assert memory.partners.tolist() == [0, 1, 2, 3] and int(memory.epoch_idx) == -1
    nn_ = torch.tensor([1, 0, 3, 2])
    with pytest.raises(ValueError, match='itself or its neighbour'):
        memory.set_partners(0, nn_, torch.tensor([1, 1, 2, 0]))
    memory.set_partners(3, nn_, torch.tensor([1, 1, 2, 2]))
    other = NeighbourPositiveMemory()
    other.setup(4)
    other.load_state_dict(memory.state_dict())
    assert other.partners.tolist() == [1, 1, 2, 2] and int(other.epoch_idx) == 3
    with pytest.raises(ValueError, match='must be in'):
        NeighbourPositiveHook(prob=1.5)


def cub_runner(tmp_path, epochs=1) -> Runner:
    cfg = Config.fromfile(ROOT / 'configs/isif/r50_cub200_unseen.py')
    shrink(cfg, {'CUB200': write_cub200(tmp_path / 'cub')})
    cfg.merge_from_dict(OVERRIDES['configs/isif/r50_'])
    cfg.train_cfg.max_epochs = epochs
    cfg.work_dir = str(tmp_path / 'work')
    return build_runner(cfg)


def test_hook_finds_cosine_neighbours_of_pool5_and_is_restored(tmp_path, monkeypatch):
    runner = cub_runner(tmp_path)
    runner.train()
    model, hook = runner.model, next(h for h in runner.hooks
                                     if isinstance(h, NeighbourPositiveHook))
    memory = model.memory
    n = len(runner.train_dataloader.dataset)
    assert n == 12 and int(memory.epoch_idx) == 0
    rows = torch.arange(n)
    assert bool((memory.neighbours != rows).all())
    assert bool(((memory.partners == rows) | (memory.partners == memory.neighbours)).all())
    assert np.array_equal(runner.train_dataloader.dataset.partners, memory.partners.numpy())
    # oracle: brute-force cosine 1-NN of the pooled backbone features of the current model
    memory.epoch_idx.fill_(-1)
    hook.before_train_epoch(runner)
    feats = extract_features(model, hook._loader, ['backbone'])['backbone'].astype(np.float64)
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    sims = feats @ feats.T
    np.fill_diagonal(sims, -np.inf)
    assert memory.neighbours.tolist() == sims.argmax(1).tolist()
    # the checkpoint carries the partners
    state = torch.load(tmp_path / 'work' / 'epoch_1.pth', weights_only=False)['state_dict']
    assert {'memory.neighbours', 'memory.partners', 'memory.epoch_idx'} <= set(state)
    # resumed in the middle of an epoch: the memory's partners are kept, not recomputed
    memory.partners.copy_(memory.neighbours)
    monkeypatch.setattr(hook_module, 'extract_features', None)  # would fail if called
    memory.epoch_idx.fill_(runner.epoch)
    hook.before_train_epoch(runner)
    assert np.array_equal(runner.train_dataloader.dataset.partners, memory.neighbours.numpy())


def _search_on_rank(n: int):
    import torch.distributed as dist
    rank = dist.get_rank()
    features = F.normalize(torch.randn(n, 6, generator=torch.Generator().manual_seed(rank)),
                           dim=1).numpy()
    hook_module.extract_features = lambda *args, **kwargs: {'backbone': features}
    memory = NeighbourPositiveMemory()
    memory.setup(n)
    runner = SimpleNamespace(
        model=SimpleNamespace(module=None), epoch=2, seed=rank,  # rank-dependent on purpose
        train_dataloader=SimpleNamespace(dataset=NeighbourPairDataset(Views(n))),
        logger=MMLogger.get_instance(f'nph{rank}'),
        visualizer=SimpleNamespace(add_scalars=lambda *a, **k: None))
    hook = NeighbourPositiveHook()
    hook._loader = None
    hook.search(runner, memory)
    return memory.neighbours.clone(), memory.partners.clone()


def test_every_rank_gets_rank0_partners():
    (nn0, p0), (nn1, p1) = run_in_processes(_search_on_rank, 2, 16)
    assert torch.equal(nn0, nn1) and torch.equal(p0, p1)
    assert bool((p0 != torch.arange(16)).any()) and bool((p0 == torch.arange(16)).any())


def _search_fails_on_rank0(n: int):
    import torch.distributed as dist
    rank = dist.get_rank()
    # no features at all on rank 0 (extract_features gives them to rank 0 only)
    hook_module.extract_features = lambda *args, **kwargs: {}
    memory = NeighbourPositiveMemory()
    memory.setup(n)
    runner = SimpleNamespace(
        model=SimpleNamespace(module=None), epoch=2, seed=0,
        train_dataloader=SimpleNamespace(dataset=NeighbourPairDataset(Views(n))),
        logger=MMLogger.get_instance(f'nph-fail{rank}'),
        visualizer=SimpleNamespace(add_scalars=lambda *a, **k: None))
    hook = NeighbourPositiveHook()
    hook._loader = None
    try:
        hook.search(runner, memory)
    except Exception as err:
        return type(err).__name__, str(err)
    return None


@pytest.mark.dist
def test_an_error_on_rank0_reaches_every_rank():
    """Rank 0 failing while it draws the partners: both ranks raise its error (before,
    rank 1 waited for the partners' broadcast until the group's timeout)."""
    first, second = run_in_processes(_search_fails_on_rank0, 2, 16, timeout=60.0)
    assert first is not None and first == second
