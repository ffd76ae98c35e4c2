"""mmengine's DefaultSampler that can start an epoch part-way, for mid-epoch resume."""
from typing import Iterator

from mmengine.dataset import DefaultSampler

from selfemb.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class ResumableSampler(DefaultSampler):
    """``DefaultSampler`` (same order for the same seed and epoch, each index once per
    epoch per rank) whose next epoch can start after the first ``n`` indices of this rank.

    ``ResumableEpochBasedTrainLoop`` calls :meth:`skip_once` when a run resumes from a
    checkpoint saved inside an epoch, so the skipped images are neither read nor decoded.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._skip = 0

    def skip_once(self, count: int) -> None:
        """Leave out the first ``count`` indices of this rank from the next iteration only."""
        if not 0 <= count <= self.num_samples:
            raise ValueError(f'ResumableSampler: cannot skip {count} of the {self.num_samples} '
                             'indices of this rank')
        self._skip = int(count)

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())[self._skip:]
        self._skip = 0
        return iter(indices)
