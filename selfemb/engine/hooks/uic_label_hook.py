"""UIC's pseudo labels: relabel from the previous epoch's predictions before each epoch."""
import time
from typing import Optional, Tuple

import numpy as np
import torch
from mmengine import dist
from mmengine.hooks import Hook
from sklearn.metrics import normalized_mutual_info_score

from selfemb.models.memories import PseudoLabelMemory
from selfemb.models.utils import class_statistics, split_empty_classes
from selfemb.registry import HOOKS

from .model_parts import model_and_part


def next_labels(labels: torch.Tensor, predictions: torch.Tensor,
                num_classes: int) -> Tuple[torch.Tensor, int]:
    """Labels of epoch t: the argmax predictions recorded in epoch t-1 (samples the
    class-balanced sampler did not draw keep their label), then every empty class takes
    half of the largest (:func:`~selfemb.models.utils.split_empty_classes`).
    Returns the labels and the number of classes that were empty before the split."""
    merged = torch.where(predictions >= 0, predictions, labels)
    empty = num_classes - int(torch.unique(merged).numel())
    return split_empty_classes(merged, num_classes), empty


@HOOKS.register_module()
class UICLabelHook(Hook):
    """Pseudo-label life cycle of UIC (Chen et al., ECCVW 2020, eq. 5 and §4.2).

    Before every epoch t (``before_train_epoch``), with the model's
    :class:`PseudoLabelMemory`:

    1. if its ``label_epoch != t``: labels_t = :func:`next_labels` of the memory's labels
       and the predictions recorded with them (all ranks hold the same buffers, so every
       rank computes the same labels; no communication). A run resumed from the
       checkpoint of epoch t-1 recomputes exactly the same labels; epoch 0 of a fresh
       run uses the memory's initial labels (uniform random with rank 0's seed, empties
       split). After ``load_from`` a UIC checkpoint (label_epoch e.g. 499, epoch 0),
       epoch 0 relabels from the checkpoint's last predictions (a checkpoint with
       ``label_epoch == 0`` keeps its epoch-0 labels);
    2. hands the labels to the train loader's sampler (``set_labels`` of
       :class:`~selfemb.datasets.ClassBalancedSampler`; another sampler gets a warning
       once: training then is not class balanced).

    Logged (rank 0, ``uic/...`` scalars and ``message_hub`` info ``'uic'``): non-empty
    classes, largest / smallest class, the number of empty classes that were split,
    the fraction of samples without a prediction, NMI(labels_t, labels_{t-1}) and, when
    the dataset has ``get_gt_labels()`` with labels >= 0, NMI(labels_t, ground truth)
    (sklearn's ``normalized_mutual_info_score``; analysis only, never used in training).

    Args:
        log_nmi: Compute the NMIs (about a second for N = 1.28M on one CPU core).
    """

    priority = 'NORMAL'

    def __init__(self, log_nmi: bool = True) -> None:
        self.log_nmi = log_nmi
        self._warned = False

    @staticmethod
    def memory_of(runner) -> PseudoLabelMemory:
        return model_and_part(runner, PseudoLabelMemory, 'UICLabelHook')[1]

    def before_train_epoch(self, runner) -> None:
        memory = self.memory_of(runner)
        if int(memory.label_epoch) != runner.epoch:  # != not <: load_from a later epoch
            self.relabel(runner, memory)
        elif runner.epoch == 0 and not runner.message_hub.get_info('uic'):
            self._log(runner, memory.labels, None, memory.num_classes, 0, 0.0, 0.0)
        sampler = runner.train_dataloader.sampler
        if hasattr(sampler, 'set_labels'):
            sampler.set_labels(memory.labels)
        elif not self._warned:
            self._warned = True
            runner.logger.warning(f'UICLabelHook: the train sampler {type(sampler).__name__} '
                                  'has no set_labels; sampling is not class balanced (use '
                                  'ClassBalancedSampler)')

    def relabel(self, runner, memory: PseudoLabelMemory) -> None:
        """Install the labels of the current epoch from the recorded predictions."""
        start = time.perf_counter()
        previous, predictions = memory.labels.clone(), memory.predictions
        unseen = float((predictions < 0).float().mean())
        labels, empty = next_labels(previous, predictions, memory.num_classes)
        memory.set_labels(labels, runner.epoch)
        seconds = time.perf_counter() - start
        self._log(runner, labels, previous, memory.num_classes, empty, unseen, seconds)

    def _log(self, runner, labels: torch.Tensor, previous: Optional[torch.Tensor],
             num_classes: int, empty: int, unseen: float, seconds: float) -> None:
        if not dist.is_main_process():
            return
        stats = class_statistics(labels, num_classes)
        info = dict(epoch=runner.epoch, empty_split=empty, unseen=unseen, **stats)
        if self.log_nmi:
            current = labels.cpu().numpy()
            if previous is not None:
                info['nmi_prev'] = float(normalized_mutual_info_score(
                    previous.cpu().numpy(), current))
            gt = getattr(runner.train_dataloader.dataset, 'get_gt_labels', None)
            gt = np.asarray(gt()) if gt is not None else None
            if gt is not None and len(gt) == len(current) and (gt >= 0).all():
                info['nmi_gt'] = float(normalized_mutual_info_score(gt, current))
        runner.message_hub.update_info('uic', info)
        runner.visualizer.add_scalars(
            {f'uic/{k}': v for k, v in info.items() if k != 'epoch'}, step=runner.epoch)
        text = '  '.join(f'{k}: {v:.4f}' if isinstance(v, float) else f'{k}: {v}'
                         for k, v in info.items() if k != 'epoch')
        runner.logger.info(f'UIC labels of epoch {runner.epoch}: {text}  '
                           f'(relabel {seconds:.3f} s)')
