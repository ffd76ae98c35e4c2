"""An epoch-based training loop that resumes inside an epoch."""
import torch
from mmengine.runner import EpochBasedTrainLoop

from selfemb.registry import LOOPS


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """mmengine's ``EpochBasedTrainLoop`` that continues a resumed epoch where it stopped.

    mmengine restarts an epoch from its first batch after ``--resume`` from an iteration
    checkpoint (``default_hooks.checkpoint`` with ``by_epoch=False``) while keeping the
    iteration count, so the epoch's first batches are seen twice. Here the resumed epoch
    runs only its remaining batches, in the order of the uninterrupted run: with a
    sampler that has ``skip_once`` (``ResumableSampler``) the skipped images are not even
    read; with any other sampler the skipped batches are loaded and dropped (exact, but
    the loading costs time; a log line says so). ``before_train_epoch`` hooks run as in
    every epoch; selfemb's hooks that change state at an epoch start record the epoch
    they did it for, so they do not redo it.
    """

    def run_epoch(self) -> None:
        done = self._iter - self._epoch * len(self.dataloader)
        if not 0 < done < len(self.dataloader):
            return super().run_epoch()
        self.runner.call_hook('before_train_epoch')  # sets the sampler's epoch
        self.runner.model.train()
        sampler, logger = self.dataloader.sampler, self.runner.logger
        # the uninterrupted run drew the loader's seed at the epoch start, before the
        # checkpoint's generator state was saved: do not draw it twice
        state = torch.get_rng_state()
        if hasattr(sampler, 'skip_once'):
            sampler.skip_once(done * self.dataloader.batch_size)
            batches = iter(self.dataloader)
            logger.info(f'Resuming epoch {self._epoch + 1} at batch {done + 1} of '
                        f'{len(self.dataloader)}')
        else:
            logger.info(f'Resuming epoch {self._epoch + 1} at batch {done + 1}: loading and '
                        f'dropping {done} batches ({type(sampler).__name__} cannot skip; '
                        'ResumableSampler can)')
            batches = iter(self.dataloader)
            for _ in range(done):
                next(batches)
        torch.set_rng_state(state)
        for idx, data_batch in enumerate(batches, start=done):
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
