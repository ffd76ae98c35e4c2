"""ISIF's nearest-neighbour positives on fine-grained data (Ye et al. 2019, Sec. 4.2)."""
import time
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine import dist
from mmengine.hooks import Hook
from torch.utils.data import DataLoader

from selfemb.datasets import NeighbourPairDataset
from selfemb.evaluation.features import dataset_labels, extract_features
from selfemb.evaluation.loaders import resolve_loader_cfg
from selfemb.models.memories import NeighbourPositiveMemory
from selfemb.models.utils import nearest_neighbours, neighbourhood_consistency
from selfemb.registry import HOOKS
from selfemb.utils.rank0 import frozen_rng, on_rank0

from .model_parts import model_and_part


@HOOKS.register_module()
class NeighbourPositiveHook(Hook):
    """Before every epoch, pick each sample's second view: itself or its nearest neighbour.

    As the official ``demo_unseen.py`` does on CUB-200: the training images are embedded
    with the test transform (model in eval mode) as L2-normalised pooled backbone features
    (``feature='backbone'``, the network's pool5) or the 128-d embedding; the nearest other
    image by cosine similarity is every sample's neighbour, and for the coming epoch each
    sample's partner is its neighbour with probability ``prob`` (0.5 officially: a uniform
    choice between the two), else itself. The second view of sample ``i`` is then an
    augmentation of image ``partners[i]`` (:class:`~selfemb.datasets.NeighbourPairDataset`),
    so the loss is unchanged: that view is ``i``'s positive.

    The result lives in the model's :class:`NeighbourPositiveMemory` (restored by
    ``--resume``; recomputed only when its ``epoch_idx`` is not the current epoch). Rank 0
    draws the choice with a generator seeded by ``(runner.seed, epoch)`` and broadcasts
    neighbours and partners (or its error: :func:`.on_rank0`), so every rank holds the
    same ones. Logged: the fraction of
    neighbours with the same ground-truth label (analysis only, never used).

    Args:
        dataloader: config (or name of a top-level config key) of the training images with
            the test pipeline, in the training set's order.
        prob: probability that a sample's partner is its neighbour.
        feature: ``'backbone'`` or ``'embedding'``.
    """

    priority = 'NORMAL'

    def __init__(self, dataloader: Union[dict, str, DataLoader] = 'neighbour_dataloader',
                 prob: float = 0.5, feature: str = 'backbone') -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'NeighbourPositiveHook prob must be in [0, 1], got {prob}')
        if feature not in ('backbone', 'embedding'):
            raise ValueError(f"NeighbourPositiveHook feature must be 'backbone' or "
                             f"'embedding', got {feature!r}")
        self.dataloader, self.prob, self.feature = dataloader, prob, feature
        self._loader = None

    def before_train(self, runner) -> None:
        model_and_part(runner, NeighbourPositiveMemory, 'NeighbourPositiveHook')
        loader = runner.train_dataloader
        if not isinstance(loader.dataset, NeighbourPairDataset):
            raise TypeError('NeighbourPositiveHook needs train_dataloader.dataset of type '
                            f'NeighbourPairDataset, got {type(loader.dataset).__name__}')
        if loader.num_workers > 0 and loader.persistent_workers:
            raise ValueError('NeighbourPositiveHook changes the partners every epoch: set '
                             'train_dataloader.persistent_workers=False')
        if self._loader is None:
            self._loader = runner.build_dataloader(
                resolve_loader_cfg(self.dataloader, runner.cfg), seed=runner.seed)
        if len(self._loader.dataset) != len(loader.dataset):
            raise ValueError(f'NeighbourPositiveHook: {self.dataloader!r} has '
                             f'{len(self._loader.dataset)} images but the training set '
                             f'{len(loader.dataset)}; it must list the same images')

    def before_train_epoch(self, runner) -> None:
        _, memory = model_and_part(runner, NeighbourPositiveMemory, 'NeighbourPositiveHook')
        if int(memory.epoch_idx) != runner.epoch:
            self.search(runner, memory)
        runner.train_dataloader.dataset.set_partners(memory.partners.cpu().numpy())

    def search(self, runner, memory: NeighbourPositiveMemory) -> None:
        """Find the neighbours with the current model and draw this epoch's partners."""
        start = time.perf_counter()
        device = memory.partners.device
        with frozen_rng():  # training's random streams untouched
            feats = extract_features(runner.model, self._loader, [self.feature],
                                     all_ranks=False).get(self.feature)
        n = memory.partners.numel()
        neighbours = torch.empty(n, dtype=torch.long, device=device)
        partners = torch.empty(n, dtype=torch.long, device=device)

        def draw() -> None:  # rank 0 fills both buffers; its error reaches every rank
            bank = F.normalize(torch.from_numpy(feats).to(device), dim=1)
            neighbours.copy_(nearest_neighbours(bank, 1)[:, 0])
            generator = torch.Generator().manual_seed(int(runner.seed or 0) * 100003 +
                                                      runner.epoch)
            take = torch.rand(n, generator=generator).to(device) < self.prob
            partners.copy_(torch.where(take, neighbours, torch.arange(n, device=device)))

        on_rank0(draw)
        dist.broadcast(neighbours, src=0)
        dist.broadcast(partners, src=0)
        memory.set_partners(runner.epoch, neighbours, partners)
        text = (f'ISIF neighbour positives (epoch {runner.epoch}): '
                f'{int((partners != torch.arange(n, device=device)).sum())} of {n} second '
                f'views from the nearest neighbour; search took '
                f'{time.perf_counter() - start:.2f} s')
        gt = dataset_labels(runner.train_dataloader.dataset, np.arange(n)) \
            if dist.is_main_process() else None
        if gt is not None:
            agree = neighbourhood_consistency(torch.ones(n, dtype=torch.bool),
                                              neighbours[:, None].cpu(), gt)
            if agree is not None:
                runner.visualizer.add_scalars({'isif/neighbour_consistency': agree},
                                              step=runner.epoch)
                text += f', same label {agree:.4f} (ground truth, analysis only)'
        runner.logger.info(text)
