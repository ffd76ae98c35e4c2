"""Two views per sample where the second may come from another image (ISIF Sec. 4.2)."""
from typing import Any, Optional, Sequence, Union

import numpy as np

from selfemb.registry import DATASETS


@DATASETS.register_module()
class NeighbourPairDataset:
    """Sample ``i`` -> ``inputs=[view of image i, view of image partners[i]]``.

    ``dataset``'s pipeline must give ONE augmented view (``PackInputs`` of a single image);
    it is run once on image ``i`` and once on its partner, and the data sample (labels,
    ``sample_idx``) is image ``i``'s. With no partners set the partner is ``i`` itself, i.e.
    ISIF's usual two augmentations of one image. ``NeighbourPositiveHook`` installs the
    partners of each epoch (the sample or its nearest neighbour) with :meth:`set_partners`
    before the epoch's data-loader workers start, so workers must not be persistent.
    ``indices`` (a config's ``train_dataloader.dataset.indices``) goes to the source's
    config, as in every other training config.
    """

    def __init__(self, dataset: Union[dict, Any],
                 indices: Optional[Union[int, Sequence[int]]] = None) -> None:
        if indices is not None:
            if not isinstance(dataset, dict):
                raise TypeError('NeighbourPairDataset: indices need the source as a config '
                                f'dict, got a built {type(dataset).__name__}')
            dataset = dict(dataset, indices=indices)
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.partners: Optional[np.ndarray] = None

    def __getattr__(self, name: str) -> Any:
        """``full_init``, ``metainfo``, ``get_gt_labels``, ... of the wrapped source."""
        if name in ('dataset', 'partners'):  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __len__(self) -> int:
        return len(self.dataset)

    def set_partners(self, partners: Optional[np.ndarray]) -> None:
        """``N`` image indices for the second views (``None``: every sample itself)."""
        if partners is not None:
            partners = np.asarray(partners, dtype=np.int64)
            n = len(self)
            if partners.shape != (n, ) or (n and (partners.min() < 0 or partners.max() >= n)):
                raise ValueError(f'NeighbourPairDataset: partners must be {n} indices in '
                                 f'[0, {n}), got shape {partners.shape}')
        self.partners = partners

    def _view(self, idx: int):
        packed = self.dataset[idx]
        view = packed['inputs']
        if isinstance(view, (list, tuple)):
            if len(view) != 1:
                raise ValueError(f'NeighbourPairDataset: the inner pipeline must give one view '
                                 f'per image, got {len(view)} (drop MultiView)')
            view = view[0]
        return packed, view

    def __getitem__(self, idx: int) -> dict:
        packed, first = self._view(idx)
        partner = idx if self.partners is None else int(self.partners[idx])
        _, second = self._view(partner)
        return dict(packed, inputs=[first, second])
