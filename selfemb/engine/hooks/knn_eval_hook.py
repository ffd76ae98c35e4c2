"""The weighted-kNN training monitor ``KNNEvalHook`` (Wu et al. 2018); the evaluation itself
is :func:`selfemb.evaluation.knn.knn_evaluate`, shared with tools/test.py."""
import os.path as osp
from typing import Dict, Optional, Union

from mmengine.hooks import CheckpointHook, Hook
from torch.utils.data import DataLoader

from selfemb.evaluation.knn import check_knn_loaders, knn_evaluate
from selfemb.evaluation.loaders import resolve_loader_cfg
from selfemb.registry import HOOKS
from selfemb.utils.rank0 import frozen_rng


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
