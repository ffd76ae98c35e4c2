"""Device-resident data path for small in-memory datasets (Fashion-MNIST, CIFAR, STL-10).

The whole (sub)set lives on the GPU as one uint8 ``N x C x H x W`` tensor; a batch is one
``index_select`` on the device, so loading never limits training. Augmentation happens
afterwards, batched on the device, in ``SelfSupPreprocessor(batch_augments=...)``.
Config::

    train_dataloader = dict(
        batch_size=128, num_workers=0, persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=True),
        collate_fn=dict(type='device_collate'),
        dataset=dict(type='DeviceDataset', dataset=dict(type='FashionMNIST', split='train')))

torch's DataLoader hands the sampler's whole index list of a batch to ``__getitems__``,
which returns the finished batch ``dict(inputs=uint8 B x C x H x W on the device,
data_samples=[DataSample(sample_idx=i), ...])``; ``device_collate`` passes it through.
``DefaultSampler`` shards indices per rank as usual, and each rank keeps a full copy of
the images on its own GPU (``torch.cuda.current_device()``, set by the launcher).
Keep ``num_workers=0`` (CUDA tensors cannot be built in worker processes) and
``pin_memory=False`` (the batch is already on the device).
"""
from typing import Any, List, Sequence, Union

import torch
from mmengine.dataset import pseudo_collate
from mmpretrain.structures import DataSample
from torch import Tensor
from torch.utils.data import get_worker_info

from selfemb.registry import DATASETS, FUNCTIONS


def _sample(idx: int) -> DataSample:
    """``DataSample(metainfo=dict(sample_idx=idx))`` without its deepcopy (3x faster)."""
    sample = DataSample()
    sample.set_field(idx, 'sample_idx', field_type='metainfo')
    return sample


@DATASETS.register_module()
class DeviceDataset:
    """Wrap an in-memory data source (``InMemoryDataset`` contract: ``get_images()``,
    ``get_gt_labels()``, ``metainfo``) and serve whole batches from device memory.

    Args:
        dataset: the source or its config (built with ``DATASETS.build``); it is
            ``full_init``-ed here.
        device: ``'auto'`` (the current CUDA device if available, else CPU) or any torch
            device string. Images move there lazily, on the first batch, i.e. after the
            launcher has picked this rank's GPU.
    """

    def __init__(self, dataset: Union[dict, Any], device: str = 'auto') -> None:
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        if not callable(getattr(dataset, 'get_images', None)):
            raise TypeError(f'DeviceDataset needs an in-memory data source with get_images() '
                            f'(e.g. FashionMNIST, CIFAR10, STL10); {type(dataset).__name__} '
                            'has none; use the per-image CPU pipeline for it')
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
        self.dataset = dataset
        images = torch.from_numpy(dataset.get_images())
        if images.ndim != 4 or images.dtype != torch.uint8 or len(images) != len(dataset):
            raise ValueError(f'DeviceDataset: {type(dataset).__name__}.get_images() gave '
                             f'{images.dtype} {tuple(images.shape)}; expected {len(dataset)} '
                             'x H x W x C uint8')
        self._images: Tensor = images.permute(0, 3, 1, 2).contiguous()  # N x C x H x W
        self._device = device
        self._on_device = False

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def full_init(self) -> None:
        """Nothing to do: the source was fully initialised at construction."""

    def get_gt_labels(self):
        return self.dataset.get_gt_labels()

    def __len__(self) -> int:
        return len(self._images)

    @property
    def images(self) -> Tensor:
        """All images as uint8 ``N x C x H x W`` on the target device."""
        if get_worker_info() is not None:
            raise RuntimeError('DeviceDataset needs num_workers=0 (and persistent_workers='
                               'False) in its dataloader: it serves batches from GPU memory, '
                               'which DataLoader worker processes cannot use')
        if not self._on_device:
            device = self._device
            if device == 'auto':
                device = (torch.device('cuda', torch.cuda.current_device())
                          if torch.cuda.is_available() else torch.device('cpu'))
            self._images = self._images.to(device)
            self._on_device = True
        return self._images

    def __getitem__(self, idx: int) -> dict:
        idx = int(idx)
        idx = idx + len(self) if idx < 0 else idx
        return dict(inputs=self.images[idx], data_samples=_sample(idx))

    def __getitems__(self, indices: Sequence[int]) -> dict:
        """One whole batch; torch's DataLoader calls this with a batch's indices."""
        images = self.images
        index = torch.as_tensor(indices, dtype=torch.long)
        if len(index) and (int(index.min()) < 0 or int(index.max()) >= len(images)):
            raise IndexError(f'DeviceDataset: indices must be in [0, {len(images)}), got '
                             f'min {int(index.min())} max {int(index.max())}')
        if images.is_cuda:  # asynchronous copy: no host-device synchronisation per batch
            index = index.pin_memory().to(images.device, non_blocking=True)
        return dict(inputs=images.index_select(0, index),
                    data_samples=[_sample(int(i)) for i in indices])


@FUNCTIONS.register_module()
def device_collate(data_batch: Union[dict, List[Any]]) -> Any:
    """Pass a ``DeviceDataset`` batch through; anything else goes to ``pseudo_collate``."""
    if isinstance(data_batch, dict) and isinstance(data_batch.get('inputs'), Tensor):
        return data_batch
    return pseudo_collate(data_batch)
