"""Size every memory of the model from the training set, before a checkpoint is resumed."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from selfemb.registry import HOOKS
from selfemb.utils.rank0 import on_rank0


def shared_seed(seed: Optional[int]) -> Optional[int]:
    """Rank 0's ``seed`` on every rank (one broadcast, :func:`.on_rank0`; unchanged
    without a process group)."""
    return on_rank0(lambda: seed)


@HOOKS.register_module()
class MemoryInitHook(Hook):
    """Call ``memory.setup(len(train_dataset), seed)`` for each memory of the model.

    Runs in ``before_run``, i.e. before mmengine resumes a checkpoint, so a resumed bank
    is loaded into a bank of the right size (a different size is a clear error). Bank
    sizes therefore always come from ``len(dataset)``, never from a constant in a config.

    ``seed`` is rank 0's ``runner.seed``, broadcast once (:func:`shared_seed`): with
    ``randomness.diff_rank_seed=True`` mmengine gives rank r the seed ``seed + r``, and
    the replicated initial state (e.g. UIC's epoch-0 labels) must not depend on the rank.
    (``Runner.train`` also broadcasts every buffer from rank 0 after ``init_weights``;
    the shared seed does not rely on that.)
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        memories = list(model.memories()) if hasattr(model, 'memories') else []
        if not memories:
            return
        num_samples = len(runner.train_dataloader.dataset)
        if num_samples == 0:
            raise ValueError('the training set is empty; a memory cannot be sized from it')
        seed = shared_seed(runner.seed)
        for memory in memories:
            memory.setup(num_samples, seed=seed)
        runner.logger.info(f'{len(memories)} memory(ies) sized for {num_samples} samples')
