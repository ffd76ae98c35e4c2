"""Step learning rate restarted every round (AND / Super-AND's round schedule)."""
from bisect import bisect_right
from typing import List, Sequence

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from selfemb.registry import PARAM_SCHEDULERS


class RoundMultiStepParamScheduler(_ParamScheduler):
    """A multi-step schedule that restarts from the base value every round.

    With ``t = last_step mod epochs_per_round`` (the step within the round; steps count
    from ``begin``) the value is a pure function of the step::

        value = base_value · gamma ** #{milestones m : m <= t}

    AND's recipe (Huang et al. 2019; Super-AND §4.1): rounds of 200 epochs, lr restarted
    at every round; both official codes compute ``lr · 0.1^((t − 80) // 40)`` for
    ``t ≥ 80``, i.e. 0.03 up to epoch 119, then ×0.1 at 120 and 160:
    ``milestones=[120, 160]``. Why not one ``MultiStepLR`` per round: mmengine's
    multiplicative schedulers never return to the base value and chaining them makes the lr
    depend on the history.
    Here the value is recomputed from ``base_values`` (the optimizer's ``initial_lr``)
    and ``last_step`` (both in the checkpoint) at every step, and again when a checkpoint
    is loaded (:meth:`load_state_dict`), so ``--resume`` anywhere — mid-round, at a round
    boundary, or with a larger ``max_epochs`` — gives bit for bit the lr of an
    uninterrupted run.

    Args:
        epochs_per_round: Steps (epochs with ``by_epoch=True``) per round.
        milestones: Increasing steps within a round, each in ``(0, epochs_per_round)``.
        gamma: Factor per milestone passed.
    """

    def __init__(self, optimizer, param_name: str, epochs_per_round: int,
                 milestones: Sequence[int], gamma: float = 0.1, begin: int = 0,
                 end: int = INF, last_step: int = -1, by_epoch: bool = True,
                 verbose: bool = False) -> None:
        milestones = [int(m) for m in milestones]
        if epochs_per_round < 1:
            raise ValueError(f'epochs_per_round must be >= 1, got {epochs_per_round}')
        if any(not 0 < m < epochs_per_round for m in milestones) or \
                milestones != sorted(set(milestones)):
            raise ValueError(f'milestones must increase strictly within (0, epochs_per_round='
                             f'{epochs_per_round}), got {milestones}')
        if gamma <= 0:
            raise ValueError(f'gamma must be > 0, got {gamma}')
        self.epochs_per_round = epochs_per_round
        self.milestones: List[int] = milestones
        self.gamma = gamma
        super().__init__(optimizer, param_name=param_name, begin=begin, end=end,
                         last_step=last_step, by_epoch=by_epoch, verbose=verbose)

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the step counters, keep this run's ``begin`` / ``end`` and re-apply the
        value of the restored step.

        mmengine fills ``end`` with the run's ``max_epochs``, so the checkpoint of a run
        stopped early (or one resumed with more epochs) carries an ``end`` that would
        freeze the lr; the range of the resumed run's own config applies instead, and
        the lr is set from the epoch alone, whatever the optimizer state held.
        """
        begin, end = self.begin, self.end
        super().load_state_dict(state_dict)
        self.begin, self.end = begin, end
        if begin <= self._global_step < end:
            self.last_step = self._global_step - begin
            for group, value in zip(self.optimizer.param_groups, self._get_value()):
                group[self.param_name] = value
        self._last_value = [group[self.param_name] for group in self.optimizer.param_groups]

    def _get_value(self) -> list:
        step_in_round = self.last_step % self.epochs_per_round
        factor = self.gamma**bisect_right(self.milestones, step_in_round)
        return [base * factor for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class RoundMultiStepLR(LRSchedulerMixin, RoundMultiStepParamScheduler):
    """:class:`RoundMultiStepParamScheduler` of the learning rate. AND's CIFAR recipe::

        param_scheduler = [dict(type='RoundMultiStepLR', epochs_per_round=200,
                                milestones=[120, 160], gamma=0.1)]
    """
