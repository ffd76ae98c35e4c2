"""Initial global k-means of an ODCMemory before training (InterCLR §3.1, ODC)."""
import time
from typing import Optional, Union

import torch
from mmengine.hooks import Hook

from selfemb.evaluation.features import extract_embeddings
from selfemb.evaluation.kmeans import faiss_kmeans
from selfemb.evaluation.loaders import resolve_loader_cfg
from selfemb.models.memories import ODCMemory
from selfemb.registry import HOOKS
from selfemb.utils.rank0 import frozen_rng, on_rank0

from .model_parts import model_and_part


@HOOKS.register_module()
class ODCInitHook(Hook):
    """Fill the model's :class:`ODCMemory` and cluster it once, before the first epoch.

    ``before_train`` (i.e. after a checkpoint is resumed): if ``memory.initialized`` is
    set (a resumed run) nothing happens. Otherwise the bank is filled with the current
    model's embeddings of the whole training set, from one no-grad pass over
    ``dataloader`` in eval mode (default: the ``knn_train_dataloader`` of the dataset
    bases, the train split with the test transform; ``None`` keeps the bank's initial
    state, random unit vectors), rank 0 runs ``faiss.Kmeans`` (CPU, ``seed``, ``niter``)
    and broadcasts the labels, and every rank installs them
    (``memory.init_clusters``: small clusters refilled, centroids averaged).
    ``before_run`` also checks the algorithm's K against the training-set size.

    Args:
        dataloader: Dataloader config / DataLoader / name of a top-level config key, or
            ``None`` to cluster the bank as it is.
        niter: k-means iterations. seed: k-means seed.
    """

    priority = 'HIGH'

    def __init__(self, dataloader: Optional[Union[dict, str]] = 'knn_train_dataloader',
                 niter: int = 20, seed: int = 0) -> None:
        if niter < 1:
            raise ValueError(f'ODCInitHook niter must be >= 1, got {niter}')
        self.dataloader, self.niter, self.seed = dataloader, niter, seed

    @staticmethod
    def model_and_memory(runner):
        return model_and_part(runner, ODCMemory, 'ODCInitHook')

    def before_run(self, runner) -> None:
        model, _ = self.model_and_memory(runner)
        if hasattr(model, 'check_num_samples'):
            model.check_num_samples(len(runner.train_dataloader.dataset))

    def before_train(self, runner) -> None:
        model, memory = self.model_and_memory(runner)
        if bool(memory.initialized):
            runner.logger.info('ODCInitHook: clustering restored from the checkpoint')
            return
        start = time.perf_counter()
        bank = memory.current_bank()
        features = None
        if self.dataloader is not None:
            loader = runner.build_dataloader(resolve_loader_cfg(self.dataloader, runner.cfg),
                                             seed=runner.seed)
            with frozen_rng():  # the training streams stay put
                features, idx = extract_embeddings(model, loader, 'embedding', progress=True)
            n = bank.size(0)
            if idx.numel() != n or not torch.equal(idx, torch.arange(n)):
                raise ValueError(f'ODCInitHook: the dataloader gave {idx.numel()} distinct '
                                 f'samples, the training set has {n}; use the train split')
        source = features if features is not None else bank.detach().cpu()
        labels = on_rank0(faiss_kmeans, source.float().numpy(), memory.num_clusters,
                          self.niter, self.seed)
        device = bank.device
        memory.init_clusters(torch.from_numpy(labels).to(device),
                             None if features is None else features.to(device))
        sizes = memory.cluster_sizes()
        runner.logger.info(f'ODCInitHook: k-means of {bank.size(0)} samples into '
                           f'{memory.num_clusters} clusters (sizes {int(sizes.min())}-'
                           f'{int(sizes.max())}) took {time.perf_counter() - start:.1f} s')
