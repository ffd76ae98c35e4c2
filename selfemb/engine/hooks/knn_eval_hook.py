"""Weighted-kNN evaluation of a model (Wu et al. 2018): :func:`knn_evaluate` (model and
loaders to metrics, shared with tools/test.py) and the training monitor ``KNNEvalHook``."""
import logging
import os.path as osp
from typing import Dict, Optional, Union

import numpy as np
import torch
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from torch.utils.data import DataLoader

from selfemb.evaluation.knn import extract_embeddings, weighted_knn
from selfemb.registry import HOOKS

from .rank0 import frozen_rng, on_rank0


def _labels_of(dataset, sample_idx: torch.Tensor, split: str) -> torch.Tensor:
    gt = np.asarray(dataset.get_gt_labels())
    if len(sample_idx) == 0 or int(sample_idx.max()) >= len(gt):
        raise ValueError(f'the kNN {split} loader gave sample indices outside its dataset '
                         f'{type(dataset).__name__} of {len(gt)} samples')
    if len(sample_idx) != len(gt):
        print_log(f'kNN {split}: {len(sample_idx)} of {len(gt)} samples were extracted '
                  '(does the sampler drop samples?)', logger='current', level=logging.WARNING)
    return torch.as_tensor(gt[sample_idx.numpy()]).long()


def check_knn_loaders(train_loader, val_loader, k: int) -> None:
    """Fail fast, before any extraction, on a k larger than the reference set or on
    datasets without ``get_gt_labels()``."""
    for split, loader in (('train', train_loader), ('val', val_loader)):
        if not hasattr(loader.dataset, 'get_gt_labels'):
            raise TypeError(f'the kNN {split} dataset {type(loader.dataset).__name__} has no '
                            'get_gt_labels()')
    n = len(train_loader.dataset)
    if not 1 <= k <= n:
        raise ValueError(f'k={k} must be between 1 and the number of kNN reference samples '
                         f'({n} in {type(train_loader.dataset).__name__})')


def knn_evaluate(model: torch.nn.Module, train_loader, val_loader, k: int = 200,
                 temperature: float = 0.1, feature: str = 'embedding',
                 num_classes: Optional[int] = None, progress: bool = False) -> Dict[str, float]:
    """Weighted-kNN accuracy of ``model``: ``train_loader`` gives the reference set,
    ``val_loader`` the queries (labels from ``dataset.get_gt_labels()``).

    Every rank extracts its shard (:func:`extract_embeddings`), rank 0 runs
    :func:`weighted_knn` (on the GPU when there is one) and broadcasts the metrics, or its
    error, so every rank returns ``dict(knn_top1=..., knn_top5=...)`` or raises the same.
    """
    check_knn_loaders(train_loader, val_loader, k)
    train_feats, train_idx = extract_embeddings(model, train_loader, feature, progress)
    val_feats, val_idx = extract_embeddings(model, val_loader, feature, progress)
    return on_rank0(_rank0_knn, train_feats, train_idx, val_feats, val_idx, train_loader,
                    val_loader, k, temperature, num_classes)


def _rank0_knn(train_feats, train_idx, val_feats, val_idx, train_loader, val_loader, k,
               temperature, num_classes) -> Dict[str, float]:
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    return weighted_knn(
        train_feats.to(device), _labels_of(train_loader.dataset, train_idx, 'train'),
        val_feats.to(device), _labels_of(val_loader.dataset, val_idx, 'val'),
        k=k, temperature=temperature, num_classes=num_classes)


def resolve_loader_cfg(loader: Union[dict, str, DataLoader], cfg) -> Union[dict, DataLoader]:
    """A dataloader config given directly, or by the name of a top-level config key."""
    if not isinstance(loader, str):
        return loader
    if cfg is None or loader not in cfg:
        raise KeyError(f'KNNEvalHook: the config has no top-level {loader!r} dataloader '
                       '(name a key such as knn_train_dataloader, or give the dict itself)')
    return cfg[loader]


def save_epoch_if_unsaved(runner) -> None:
    """Save the finished epoch through the run's checkpoint hook unless it already has."""
    for hook in runner.hooks:
        if isinstance(hook, CheckpointHook) and hook.by_epoch:
            name = hook.filename_tmpl.format(runner.epoch + 1)
            if osp.basename(str(runner.message_hub.get_info('last_ckpt') or '')) != name:
                runner.logger.error(f'the kNN monitor failed: saving {name} first')
                hook._save_checkpoint(runner)
            return


@HOOKS.register_module()
class KNNEvalHook(Hook):
    """Weighted kNN accuracy of the current model after every ``interval`` train epochs
    and after the last one.

    The train-split features are recomputed with the test transform at every evaluation:
    ``train_dataloader`` is a dataloader config of the train split with the test pipeline,
    ``val_dataloader`` one of the evaluation split; both are built once, before training
    (so a k larger than the reference set fails at once), with ``runner.build_dataloader``.
    Every rank extracts its shard, rank 0 runs :func:`selfemb.evaluation.weighted_knn` and
    broadcasts the result, so every rank ends with the same numbers. They are logged as
    ``knn/top1`` and ``knn/top5`` (text log and visualizer backends, step = number of
    finished epochs), kept in ``self.result`` and in ``runner.message_hub.get_info('knn')``.
    Priority 95 runs it after the checkpoint hook (``VERY_LOW`` = 90), so the epoch's
    checkpoint is on disk before the monitor runs; if the evaluation fails at an epoch
    the checkpoint hook did not save, that epoch is saved before the error is raised, so
    a monitor failure (a corrupt test image, ...) never loses training.

    Args:
        train_dataloader: dataloader config (or DataLoader) of the kNN reference set, or
            the name of a top-level config key holding it (the dataset base configs use
            ``'knn_train_dataloader'``, so it merges and overrides like any other key).
        val_dataloader: the same for the kNN query set (``'knn_val_dataloader'``).
        interval: evaluate every ``interval`` epochs (and always after the last epoch).
        k: number of neighbours; must not exceed the size of the reference set.
        temperature: sigma of the vote weight exp(sim / sigma).
        feature: 'embedding' (``model.embed``) or 'backbone' (pooled last stage).
        num_classes: number of classes; default 1 + the largest label.
        eval_initial: also evaluate the model the run starts from, before the first
            epoch, logged as epoch 0 (the untrained reference; skipped when a run is
            resumed past its start).
    """
    priority = 95  # after CheckpointHook (VERY_LOW = 90): the epoch is saved first

    def __init__(self, train_dataloader: Union[dict, str, DataLoader],
                 val_dataloader: Union[dict, str, DataLoader], interval: int = 1, k: int = 200,
                 temperature: float = 0.1, feature: str = 'embedding',
                 num_classes: Optional[int] = None, eval_initial: bool = False) -> None:
        if interval < 1 or k < 1 or temperature <= 0:
            raise ValueError(f'KNNEvalHook needs interval >= 1, k >= 1 and temperature > 0, '
                             f'got interval={interval}, k={k}, temperature={temperature}')
        if feature not in ('embedding', 'backbone'):
            raise ValueError(f"KNNEvalHook feature must be 'embedding' or 'backbone', "
                             f'got {feature!r}')
        self.train_dataloader, self.val_dataloader = train_dataloader, val_dataloader
        self.interval, self.k, self.temperature = interval, k, temperature
        self.feature, self.num_classes = feature, num_classes
        self.eval_initial = eval_initial
        self.result: Optional[Dict[str, float]] = None
        self._loaders = None

    def _build_loaders(self, runner) -> None:
        if self._loaders is None:
            self._loaders = tuple(
                runner.build_dataloader(resolve_loader_cfg(cfg, runner.cfg), seed=runner.seed)
                for cfg in (self.train_dataloader, self.val_dataloader))
            check_knn_loaders(*self._loaders, self.k)

    def before_train(self, runner) -> None:
        self._build_loaders(runner)
        if self.eval_initial and runner.epoch == 0 and runner.iter == 0:
            self.evaluate(runner, epoch=0)

    def after_train_epoch(self, runner) -> None:
        if self.every_n_epochs(runner, self.interval) or self.is_last_train_epoch(runner):
            try:
                self.evaluate(runner)
            except BaseException:
                save_epoch_if_unsaved(runner)
                raise


    def evaluate(self, runner, epoch: Optional[int] = None) -> Dict[str, float]:
        """Run the kNN evaluation now, log and store the result as ``epoch`` (default:
        the number of finished epochs), and return it."""
        self._build_loaders(runner)
        # evaluation must not move the training's random streams (exact --resume
        # whatever the interval): fork every generator it could touch
        with frozen_rng():
            result = knn_evaluate(runner.model, *self._loaders, k=self.k,
                                  temperature=self.temperature, feature=self.feature,
                                  num_classes=self.num_classes)
        epoch = runner.epoch + 1 if epoch is None else epoch
        self.result = result
        runner.message_hub.update_info('knn', dict(result, epoch=epoch))
        runner.visualizer.add_scalars(
            {'knn/top1': result['knn_top1'], 'knn/top5': result['knn_top5']}, step=epoch)
        references, queries = (len(loader.dataset) for loader in self._loaders)
        runner.logger.info(f"Epoch(knn) [{epoch}]  knn/top1: {result['knn_top1']:.2f}  "
                           f"knn/top5: {result['knn_top5']:.2f}  (k={self.k}, "
                           f'temperature={self.temperature}, feature={self.feature}, '
                           f'{references} references, {queries} queries)')
        return result
