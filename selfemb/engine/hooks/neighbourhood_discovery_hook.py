"""AND's rounds: neighbourhood discovery and curriculum anchor selection before each round."""
import time
from typing import Optional, Tuple

import torch
from mmengine import dist
from mmengine.hooks import Hook

from selfemb.models.algorithms.base import EPOCH_IN_ROUND_KEY
from selfemb.models.heads import SuperANDHead
from selfemb.models.memories import NeighbourhoodMemory
from selfemb.models.utils import (
    entropy_and_neighbours,
    neighbourhood_consistency,
    num_anchors,
    select_anchors,
)
from selfemb.registry import HOOKS
from selfemb.utils.rank0 import on_rank0

from .model_parts import model_and_part

PRECISIONS = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


@HOOKS.register_module()
class NeighbourhoodDiscoveryHook(Hook):
    """Run AND's neighbourhood discovery at the start of every round (Huang et al., ICML
    2019; Super-AND Alg. 1, eq. 7–9).

    Training is split into rounds of ``epochs_per_round`` epochs; round 0 is instance
    discrimination. Before the first epoch of round ``r >= 1`` (epoch
    ``r · epochs_per_round``), from the model's :class:`NeighbourhoodMemory` bank:

    1. entropy ``H_i`` of ``softmax(m_i · Mᵀ / τ)`` and the ``k`` nearest other rows of
       every sample (:func:`~selfemb.models.utils.entropy_and_neighbours`, chunked);
    2. anchors = the ``floor(min(r · select_rate, 1) · N)`` lowest-entropy samples;
    3. installed with ``memory.set_neighbourhoods(r, anchor, neighbours)``.

    It runs only when ``memory.round_idx < r``: the result is a registered buffer, so a
    run resumed in the middle of a round keeps the checkpoint's anchors instead of
    recomputing them from a later bank. Rank 0 computes and broadcasts (its error, too),
    so every rank holds the same anchors. Logged: the number of anchors, the time, and,
    when the train dataset's ``get_gt_labels()`` has labels >= 0, the neighbourhood
    consistency (fraction of anchor–neighbour pairs with equal labels; analysis only,
    never used for training) as ``and/num_anchors`` and ``and/consistency``. Every epoch
    it also records ``and_round`` and ``and_epoch_in_round`` in the message hub (for
    round-dependent loss weights) and writes the epoch into every ``SuperANDHead``'s
    device state (:meth:`~selfemb.models.heads.SuperANDHead.set_round_epoch`, which a
    captured step reads); after ``--resume`` both follow from the restored epoch. Pair
    it with ``RoundMultiStepLR`` for the per-round learning-rate restart: the round
    length is then the scheduler's, set once.

    Args:
        epochs_per_round: Epochs per round (200 in the paper); ``None`` (default): the
            ``epochs_per_round`` of the run's ``RoundMultiStepLR``, so the method's model
            base can declare this hook without knowing the schedule.
        select_rate: Anchor fraction added per round (0.25).
        k: Neighbours per anchor (1); must equal the memory's ``num_neighbours``.
        temperature: τ of the entropy's softmax (0.1).
        chunk_size: Bank rows per similarity block; ``None``: automatic (memory bound).
        precision: ``'fp32'``, ``'fp16'`` or ``'bf16'`` similarities (fp16 is the fast
            choice on a GPU: unit vectors need no bf16 range, and fp16 keeps 3 more bits).
        fused: entropy through the fused attention kernel (see
            :func:`~selfemb.models.utils.softmax_entropy`); ``False``: blocked matmul.
    """

    priority = 'NORMAL'

    def __init__(self, epochs_per_round: Optional[int] = None, select_rate: float = 0.25,
                 k: int = 1, temperature: float = 0.1, chunk_size: Optional[int] = None,
                 precision: str = 'fp32', fused: bool = True) -> None:
        if (epochs_per_round is not None and epochs_per_round < 1) or not 0 < select_rate <= 1 \
                or k < 1 or temperature <= 0:
            raise ValueError('NeighbourhoodDiscoveryHook needs epochs_per_round >= 1, '
                             '0 < select_rate <= 1, k >= 1 and temperature > 0, got '
                             f'epochs_per_round={epochs_per_round}, select_rate={select_rate}, '
                             f'k={k}, temperature={temperature}')
        if precision not in PRECISIONS:
            raise ValueError(f'NeighbourhoodDiscoveryHook precision must be one of '
                             f'{sorted(PRECISIONS)}, got {precision!r}')
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f'NeighbourhoodDiscoveryHook chunk_size must be >= 1, '
                             f'got {chunk_size}')
        self.epochs_per_round, self.select_rate, self.k = epochs_per_round, select_rate, k
        self.temperature, self.chunk_size, self.precision = temperature, chunk_size, precision
        self.fused = fused

    @staticmethod
    def memory_of(runner) -> NeighbourhoodMemory:
        return model_and_part(runner, NeighbourhoodMemory, 'NeighbourhoodDiscoveryHook')[1]

    def before_run(self, runner) -> None:
        memory = self.memory_of(runner)
        if memory.num_neighbours != self.k:
            raise ValueError(f'NeighbourhoodDiscoveryHook k={self.k} but the model memory '
                             f'keeps num_neighbours={memory.num_neighbours}; set both to the '
                             'same value')

    def before_train(self, runner) -> None:
        schedulers = runner.param_schedulers or []
        if isinstance(schedulers, dict):
            schedulers = [s for group in schedulers.values() for s in group]
        if self.epochs_per_round is None:
            periods = [s.epochs_per_round for s in schedulers if hasattr(s, 'epochs_per_round')]
            if not periods:
                raise ValueError('NeighbourhoodDiscoveryHook has no epochs_per_round and the '
                                 'run has no RoundMultiStepLR to take it from; set '
                                 'method_hooks.discovery.epochs_per_round')
            self.epochs_per_round = periods[0]
        for scheduler in schedulers:
            period = getattr(scheduler, 'epochs_per_round', self.epochs_per_round)
            if period != self.epochs_per_round:
                raise ValueError(f'{type(scheduler).__name__} has epochs_per_round={period} but '
                                 f'NeighbourhoodDiscoveryHook has {self.epochs_per_round}; '
                                 'rounds of the lr and of the anchors must agree')
        max_epochs = runner.max_epochs
        if max_epochs % self.epochs_per_round:
            runner.logger.warning(f'max_epochs={max_epochs} is not a whole number of rounds of '
                                  f'{self.epochs_per_round} epochs; the last round is cut short')

    def before_train_epoch(self, runner) -> None:
        round_idx, epoch_in_round = divmod(runner.epoch, self.epochs_per_round)
        runner.message_hub.update_info('and_round', round_idx)
        runner.message_hub.update_info(EPOCH_IN_ROUND_KEY, epoch_in_round)
        model, memory = model_and_part(runner, NeighbourhoodMemory, type(self).__name__)
        for head in model.modules():
            if isinstance(head, SuperANDHead):  # its UE weight, device state a graph reads
                head.set_round_epoch(epoch_in_round)
        if int(memory.round_idx) < round_idx:
            self.discover(runner, memory, round_idx)

    def discover(self, runner, memory: NeighbourhoodMemory, round_idx: int) -> None:
        """Compute and install the anchors and neighbours of ``round_idx`` now."""
        memory.current_bank()  # every rank writes the last step's update first
        start = time.perf_counter()
        anchor, neighbours = self._compute_on_rank0(memory, round_idx)
        memory.set_neighbourhoods(round_idx, anchor, neighbours)
        seconds = time.perf_counter() - start
        count, n = int(anchor.sum()), anchor.numel()
        consistency = None
        labels = getattr(runner.train_dataloader.dataset, 'get_gt_labels', None)
        if labels is not None and dist.is_main_process():
            consistency = neighbourhood_consistency(anchor, neighbours, labels())
        scalars = {'and/num_anchors': count}
        text = f'{count} anchors of {n} samples'
        if consistency is not None:
            scalars['and/consistency'] = consistency
            text += f', neighbourhood consistency {consistency:.4f} (ground truth, analysis only)'
        runner.message_hub.update_info('neighbourhood', dict(round=round_idx,
                                                             num_anchors=count,
                                                             consistency=consistency))
        runner.visualizer.add_scalars(scalars, step=runner.epoch)
        runner.logger.info(f'AND round {round_idx} (epoch {runner.epoch}): {text}; '
                           f'discovery took {seconds:.2f} s')

    def _compute_on_rank0(self, memory: NeighbourhoodMemory,
                          round_idx: int) -> Tuple[torch.Tensor, torch.Tensor]:
        bank = memory.bank  # flushed by discover()
        n = bank.size(0)
        anchor = torch.zeros(n, dtype=torch.uint8, device=bank.device)
        neighbours = torch.empty(n, self.k, dtype=torch.long, device=bank.device)

        def discover() -> None:  # rank 0 fills both buffers; its error reaches every rank
            entropy, found = entropy_and_neighbours(
                bank, self.k, self.temperature, self.chunk_size, PRECISIONS[self.precision],
                self.fused)
            neighbours.copy_(found)
            count = num_anchors(n, round_idx, self.select_rate)
            anchor.copy_(select_anchors(entropy, count).to(torch.uint8))

        on_rank0(discover)
        dist.broadcast(neighbours, src=0)
        dist.broadcast(anchor, src=0)
        return anchor.bool(), neighbours
