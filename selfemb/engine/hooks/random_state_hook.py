"""Save and restore every random-number generator, so a resumed run continues exactly."""
import random

import numpy as np
import torch
import torch.distributed as dist
from mmengine.hooks import Hook

from selfemb.registry import HOOKS


def capture_random_state() -> dict:
    """The state of Python's, numpy's and torch's (CPU and CUDA) generators."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict) -> None:
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Store each rank's generator states in the checkpoint and restore them on resume.

    mmengine re-seeds but does not restore generator states, so without this hook the
    augmentations after ``--resume`` differ from those of an uninterrupted run. Only
    rank 0 writes checkpoints, so every rank's state is gathered at the end of each
    epoch (after the end-of-epoch hooks that change the model, before the checkpoint
    hook; the kNN monitor runs after the checkpoint and forks the generators) and written
    into the checkpoint; they are restored when the world size matches (otherwise a warning
    says the run will not be bit-exact).
    """

    priority = 80  # before CheckpointHook (VERY_LOW = 90)

    def __init__(self) -> None:
        self._states: list = []

    def before_run(self, runner) -> None:
        """Give every rank its own CUDA stream of random numbers (batched augmentations
        and noise samples run there); CPU generators stay identical so model
        initialisation and samplers agree across ranks."""
        if dist.is_available() and dist.is_initialized() and torch.cuda.is_available():
            torch.cuda.manual_seed(runner.seed + 1_000_003 * dist.get_rank())

    def after_train_epoch(self, runner) -> None:
        state = capture_random_state()
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            self._states = [None] * dist.get_world_size()
            dist.all_gather_object(self._states, state)
        else:
            self._states = [state]

    def before_train_epoch(self, runner) -> None:
        # the states gathered at the last epoch end are for a save at that moment only
        # (a run checkpointing by iteration saves inside the next epoch instead)
        self._states = []

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # a save inside an epoch (iteration checkpoints) has rank 0's state only
        checkpoint['random_states'] = self._states or [capture_random_state()]
        self._states = []

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('random_states')
        if not states:
            return
        world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        if len(states) != world:
            runner.logger.warning(f'checkpoint has random states of {len(states)} ranks, '
                                  f'this run has {world}: continuing, but not bit-exact')
            return
        rank = dist.get_rank() if world > 1 else 0
        restore_random_state(states[rank])
