"""Size every memory of the model from the training set, before a checkpoint is resumed."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from selfemb.registry import HOOKS


@HOOKS.register_module()
class MemoryInitHook(Hook):
    """Call ``memory.setup(len(train_dataset), seed)`` for each memory of the model.

    Runs in ``before_run``, i.e. before mmengine resumes a checkpoint, so a resumed bank
    is loaded into a bank of the right size (a different size is a clear error). Bank
    sizes therefore always come from ``len(dataset)``, never from a constant in a config.
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
        for memory in memories:
            memory.setup(num_samples, seed=runner.seed)
        runner.logger.info(f'{len(memories)} memory(ies) sized for {num_samples} samples')
