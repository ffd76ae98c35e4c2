"""The weighted-kNN training monitor ``KNNEvalHook`` (Wu et al. 2018); the evaluation itself
is :func:`selfemb.evaluation.knn.knn_evaluate`, shared with tools/test.py."""
import os.path as osp
import time
from typing import Dict, Optional, Union

import numpy as np
import torch
from mmengine.hooks import CheckpointHook, Hook
from torch.utils.data import DataLoader

from selfemb.evaluation.features import extract_embeddings
from selfemb.evaluation.knn import _labels_of, check_knn_loaders, knn_evaluate, weighted_knn
from selfemb.evaluation.loaders import resolve_loader_cfg
from selfemb.models.memories import SimpleMemory
from selfemb.registry import HOOKS
from selfemb.utils.rank0 import frozen_rng, on_rank0

from .model_parts import model_and_part

REFERENCES = ('recompute', 'bank')
META_KEY = 'knn_eval'  # checkpoint['meta'][META_KEY]: the best epoch, as plain numbers


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
    and after the last one, and the best epoch so far.

    Two reference sets (``reference``):

    * ``'recompute'`` (default, our protocol): the train-split features are recomputed
      with the test transform at every evaluation: ``train_dataloader`` is a dataloader
      config of the train split with the test pipeline.
    * ``'bank'`` (the protocol of the NPID, AND and Super-AND code): the references are
      the rows of the model's :class:`~selfemb.models.memories.SimpleMemory` bank, read
      through ``current_bank()`` (L2-normalised by the kNN), labelled by
      ``runner.train_dataloader.dataset.get_gt_labels()`` (bank row i is training sample
      i); nothing is recomputed, ``train_dataloader`` is not used (may be ``None``), and
      ``feature`` must be ``'embedding'``. A model without exactly one bank, or a bank
      whose rows differ from the train set's length, is an error.

    ``val_dataloader`` is a dataloader config of the evaluation split (the queries, always
    recomputed by the model). The loaders are built once, before training (so a k larger
    than the reference set fails at once), with ``runner.build_dataloader``. Every rank
    extracts its shard, rank 0 runs :func:`selfemb.evaluation.weighted_knn` and
    broadcasts the result, so every rank ends with the same numbers. They are logged as
    ``knn/top1``, ``knn/top5``, ``knn/best_top1`` and ``knn/seconds`` (the evaluation's
    wall time; text log and visualizer backends, step = number of finished epochs), kept
    in ``self.result`` (``knn_top1``, ``knn_top5``, ``best_top1``, ``best_epoch``) and in
    ``runner.message_hub.get_info('knn')`` (the same plus ``epoch``). The best top-1 and
    its epoch are saved in the checkpoint (``checkpoint['meta']['knn_eval']``, plain
    numbers) and restored by ``--resume``. ``prefix`` replaces ``knn`` in all of these
    names (scalars ``<prefix>/top1``, info ``<prefix>``, meta ``<prefix>_eval``), so two
    monitors (e.g. both references) run in one training without mixing their numbers.
    As an epoch's checkpoint is written before its evaluation, a run resumed from an
    evaluation epoch evaluates that epoch again before training on (with ``'bank'`` it is
    exactly the same reference set).
    Priority 95 runs it after the checkpoint hook (``VERY_LOW`` = 90), so the epoch's
    checkpoint is on disk before the monitor runs; if the evaluation fails at an epoch
    the checkpoint hook did not save, that epoch is saved before the error is raised, so
    a monitor failure (a corrupt test image, ...) never loses training.

    Args:
        train_dataloader: dataloader config (or DataLoader) of the kNN reference set, or
            the name of a top-level config key holding it (the dataset base configs use
            ``'knn_train_dataloader'``, so it merges and overrides like any other key);
            unused with ``reference='bank'``.
        val_dataloader: the same for the kNN query set (``'knn_val_dataloader'``).
        interval: evaluate every ``interval`` epochs (and always after the last epoch).
        k: number of neighbours; must not exceed the size of the reference set.
        temperature: sigma of the vote weight exp(sim / sigma).
        feature: 'embedding' (``model.embed``) or 'backbone' (pooled last stage).
        num_classes: number of classes; default 1 + the largest label.
        eval_initial: also evaluate the model the run starts from, before the first
            epoch, logged as epoch 0 (the untrained reference; skipped when a run is
            resumed past its start).
        reference: ``'recompute'`` or ``'bank'`` (see above).
        prefix: name of the logged scalars, message-hub info and checkpoint meta entry
            (a Python identifier; ``'knn'`` by default).
    """
    priority = 95  # after CheckpointHook (VERY_LOW = 90): the epoch is saved first

    def __init__(self, train_dataloader: Union[dict, str, DataLoader, None],
                 val_dataloader: Union[dict, str, DataLoader], interval: int = 1, k: int = 200,
                 temperature: float = 0.1, feature: str = 'embedding',
                 num_classes: Optional[int] = None, eval_initial: bool = False,
                 reference: str = 'recompute', prefix: str = 'knn') -> None:
        if interval < 1 or k < 1 or temperature <= 0:
            raise ValueError(f'KNNEvalHook needs interval >= 1, k >= 1 and temperature > 0, '
                             f'got interval={interval}, k={k}, temperature={temperature}')
        if feature not in ('embedding', 'backbone'):
            raise ValueError(f"KNNEvalHook feature must be 'embedding' or 'backbone', "
                             f'got {feature!r}')
        if reference not in REFERENCES:
            raise ValueError(f"KNNEvalHook reference must be 'recompute' or 'bank', "
                             f'got {reference!r}')
        if reference == 'bank' and feature != 'embedding':
            raise ValueError("KNNEvalHook(reference='bank') compares the bank's embeddings: "
                             f"feature must be 'embedding', got {feature!r}")
        if reference == 'recompute' and train_dataloader is None:
            raise ValueError("KNNEvalHook(reference='recompute') needs a train_dataloader "
                             "(or use reference='bank')")
        if not (isinstance(prefix, str) and prefix.isidentifier()):
            raise ValueError(f'KNNEvalHook prefix must be a Python identifier (it names '
                             f'the logged scalars), got {prefix!r}')
        self.prefix = prefix
        self.train_dataloader, self.val_dataloader = train_dataloader, val_dataloader
        self.interval, self.k, self.temperature = interval, k, temperature
        self.feature, self.num_classes = feature, num_classes
        self.eval_initial, self.reference = eval_initial, reference
        self.result: Optional[Dict[str, float]] = None
        self.best_top1: Optional[float] = None
        self.best_epoch: Optional[int] = None
        self.evaluated_epoch: Optional[int] = None  # the last epoch evaluated
        self._loaders = None

    def _build_loaders(self, runner) -> None:
        if self._loaders is not None:
            return
        if self.reference == 'bank':
            val = runner.build_dataloader(resolve_loader_cfg(self.val_dataloader, runner.cfg),
                                          seed=runner.seed)
            # the reference set is the train set itself (bank row i = training sample i)
            check_knn_loaders(runner.train_dataloader, val, self.k)
            self._loaders = (None, val)
        else:
            self._loaders = tuple(
                runner.build_dataloader(resolve_loader_cfg(cfg, runner.cfg), seed=runner.seed)
                for cfg in (self.train_dataloader, self.val_dataloader))
            check_knn_loaders(*self._loaders, self.k)

    def before_train(self, runner) -> None:
        self._build_loaders(runner)
        if self.eval_initial and runner.epoch == 0 and runner.iter == 0:
            self.evaluate(runner, epoch=0)
        elif (runner.epoch > 0 and runner.epoch % self.interval == 0
              and (self.evaluated_epoch or 0) < runner.epoch):
            # resumed from an evaluation epoch whose checkpoint predates its evaluation
            self.evaluate(runner, epoch=runner.epoch)

    def after_train_epoch(self, runner) -> None:
        if self.every_n_epochs(runner, self.interval) or self.is_last_train_epoch(runner):
            try:
                self.evaluate(runner)
            except BaseException:
                save_epoch_if_unsaved(runner)
                raise

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[self._meta_key] = dict(
            best_top1=self.best_top1, best_epoch=self.best_epoch,
            evaluated_epoch=self.evaluated_epoch)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = (checkpoint.get('meta') or {}).get(self._meta_key)
        if state:
            self.best_top1, self.best_epoch = state['best_top1'], state['best_epoch']
            self.evaluated_epoch = state.get('evaluated_epoch')

    @property
    def _meta_key(self) -> str:
        return META_KEY if self.prefix == 'knn' else f'{self.prefix}_eval'

    def _bank_evaluate(self, runner) -> Dict[str, float]:
        """Weighted kNN of the recomputed query features against the memory bank."""
        _, memory = model_and_part(runner, SimpleMemory, "KNNEvalHook(reference='bank')")
        bank = memory.current_bank()
        train_set = runner.train_dataloader.dataset
        if len(train_set) != bank.size(0):
            raise ValueError(f"KNNEvalHook(reference='bank'): the bank has {bank.size(0)} rows "
                             f'but the train dataset {type(train_set).__name__} has '
                             f'{len(train_set)} samples; bank row i must be training sample i')
        val_loader = self._loaders[1]
        val_feats, val_idx = extract_embeddings(runner.model, val_loader, self.feature)
        return on_rank0(_rank0_bank_knn, bank, train_set, val_feats, val_idx, val_loader,
                        self.k, self.temperature, self.num_classes)

    def evaluate(self, runner, epoch: Optional[int] = None) -> Dict[str, float]:
        """Run the kNN evaluation now, log and store the result as ``epoch`` (default:
        the number of finished epochs), and return it."""
        self._build_loaders(runner)
        # evaluation must not move the training's random streams (exact --resume
        # whatever the interval): fork every generator it could touch
        start = time.perf_counter()
        with frozen_rng():
            if self.reference == 'bank':
                result = self._bank_evaluate(runner)
            else:
                result = knn_evaluate(runner.model, *self._loaders, k=self.k,
                                      temperature=self.temperature, feature=self.feature,
                                      num_classes=self.num_classes)
        seconds = time.perf_counter() - start  # the result is on the host: work is done
        epoch = runner.epoch + 1 if epoch is None else epoch
        if self.best_top1 is None or result['knn_top1'] > self.best_top1:
            self.best_top1, self.best_epoch = float(result['knn_top1']), int(epoch)
        self.evaluated_epoch = int(epoch)
        result = dict(result, best_top1=self.best_top1, best_epoch=self.best_epoch)
        self.result = result
        name = self.prefix
        runner.message_hub.update_info(name, dict(result, epoch=epoch))
        runner.visualizer.add_scalars(
            {f'{name}/top1': result['knn_top1'], f'{name}/top5': result['knn_top5'],
             f'{name}/best_top1': self.best_top1, f'{name}/seconds': round(seconds, 3)},
            step=epoch)
        references = (len(runner.train_dataloader.dataset) if self.reference == 'bank'
                      else len(self._loaders[0].dataset))
        queries = len(self._loaders[1].dataset)
        runner.logger.info(f"Epoch(knn) [{epoch}]  {name}/top1: {result['knn_top1']:.2f}  "
                           f"{name}/top5: {result['knn_top5']:.2f}  "
                           f'{name}/best_top1: {self.best_top1:.2f} (epoch {self.best_epoch})  '
                           f'{name}/seconds: {seconds:.2f}  '
                           f'(k={self.k}, temperature={self.temperature}, '
                           f'feature={self.feature}, reference={self.reference}, '
                           f'{references} references, {queries} queries)')
        return result


def _rank0_bank_knn(bank, train_set, val_feats, val_idx, val_loader, k, temperature,
                    num_classes) -> Dict[str, float]:
    labels = torch.as_tensor(np.asarray(train_set.get_gt_labels())).long()
    return weighted_knn(bank, labels.to(bank.device), val_feats.to(bank.device),
                        _labels_of(val_loader.dataset, val_idx, 'val'), k=k,
                        temperature=temperature, num_classes=num_classes)
