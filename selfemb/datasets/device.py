"""Device-resident data path for small in-memory datasets (Fashion-MNIST, CIFAR, STL-10).

An in-memory source built with ``device='auto'`` (or any torch device string) keeps its
whole (sub)set on that device as one uint8 ``N x C x H x W`` tensor; a batch is one
``index_select`` on the device, so loading never limits training. Augmentation happens
afterwards, batched on the device, in ``SelfSupPreprocessor(batch_augments=...)``.
Config::

    train_dataloader = dict(
        batch_size=128, num_workers=0, persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=True),
        collate_fn=dict(type='selfemb.device_collate'),
        dataset=dict(type='FashionMNIST', split='train', device='auto'))

torch's DataLoader hands the sampler's whole index list of a batch to ``__getitems__``,
which returns the finished batch ``dict(inputs=uint8 B x C x H x W on the device,
data_samples=IndexedSamples([DataSample(sample_idx=i), ...], indices=int64 B on the
device))``; ``device_collate`` passes it through. The samples' ``indices`` tensor is what
the memory-bank methods read (:func:`~selfemb.models.utils.sample_indices`), with no
host-to-device copy inside the step, and what a CUDA-graph step copies into its static
batch like the images.
``DefaultSampler`` shards indices per rank as usual, and each rank keeps a full copy of
the images on its own GPU (``torch.cuda.current_device()``, set by the launcher).
Keep ``num_workers=0`` (CUDA tensors cannot be built in worker processes) and
``pin_memory=False`` (the batch is already on the device).
"""
from typing import Any, List, Optional, Sequence, Union

import torch
from mmengine.dataset import pseudo_collate
from mmpretrain.structures import DataSample
from torch import Tensor
from torch.utils.data import get_worker_info

from selfemb.registry import DATASETS, FUNCTIONS
from selfemb.utils.samples import IndexedSamples


def _sample(idx: int) -> DataSample:
    """``DataSample(metainfo=dict(sample_idx=idx))`` without its deepcopy (3x faster)."""
    sample = DataSample()
    sample.set_field(idx, 'sample_idx', field_type='metainfo')
    return sample


class DeviceResidentMixin:
    """The ``device`` option of in-memory sources (``get_images()`` of the whole (sub)set).

    ``device=None``: the usual per-image pipeline. ``'auto'`` (the current CUDA device if
    available, else CPU) or a torch device string: items and batches are served from
    device memory, without the pipeline. Images move there lazily, on the first batch,
    i.e. after the launcher has picked this rank's GPU.
    """

    device: Optional[str] = None
    _device_images: Optional[Tensor] = None

    def use_device(self, device: Optional[str]) -> None:
        """Serve from ``device`` from now on (None: back to the per-image pipeline)."""
        if device is not None and not isinstance(device, str):
            raise TypeError(f'{type(self).__name__}: device must be None, "auto" or a torch '
                            f'device string, got {device!r}')
        self.device, self._device_images = device, None

    @property
    def images(self) -> Tensor:
        """All images as uint8 ``N x C x H x W`` on the target device."""
        name = type(self).__name__
        if self.device is None:
            raise RuntimeError(f'{name}: images are served from a device only with '
                               "device='auto' (or a device string)")
        if get_worker_info() is not None:
            raise RuntimeError(f'{name}(device={self.device!r}) needs num_workers=0 (and '
                               'persistent_workers=False) in its dataloader: it serves '
                               'batches from GPU memory, which DataLoader worker processes '
                               'cannot use')
        if self._device_images is None:
            images = torch.from_numpy(self.get_images())
            if images.ndim != 4 or images.dtype != torch.uint8 or len(images) != len(self):
                raise ValueError(f'{name}.get_images() gave {images.dtype} '
                                 f'{tuple(images.shape)}; expected {len(self)} x H x W x C '
                                 'uint8')
            device = self.device
            if device == 'auto':
                device = (torch.device('cuda', torch.cuda.current_device())
                          if torch.cuda.is_available() else torch.device('cpu'))
            self._device_images = images.permute(0, 3, 1, 2).contiguous().to(device)
        return self._device_images

    def __getitem__(self, idx: int) -> Any:
        if self.device is None:
            return super().__getitem__(idx)
        idx = int(idx)
        idx = idx + len(self) if idx < 0 else idx
        return dict(inputs=self.images[idx], data_samples=_sample(idx))

    def __getitems__(self, indices: Sequence[int]) -> Any:
        """One whole batch; torch's DataLoader calls this with a batch's indices (without
        a device: the list of items, as torch builds it itself)."""
        if self.device is None:
            return [self[i] for i in indices]
        images = self.images
        index = torch.as_tensor(indices, dtype=torch.long)
        if len(index) and (int(index.min()) < 0 or int(index.max()) >= len(images)):
            raise IndexError(f'{type(self).__name__}: indices must be in [0, {len(images)}), '
                             f'got min {int(index.min())} max {int(index.max())}')
        samples = [_sample(int(i)) for i in indices]
        if images.is_cuda:  # asynchronous copy: no host-device synchronisation per batch
            index = index.pin_memory().to(images.device, non_blocking=True)
        return dict(inputs=images.index_select(0, index),
                    data_samples=IndexedSamples(samples, indices=index))

    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        super().get_subset_(indices)
        self._device_images = None

    def get_subset(self, indices: Union[Sequence[int], int]) -> Any:
        subset = super().get_subset(indices)
        subset._device_images = None
        return subset


@DATASETS.register_module()
def DeviceDataset(dataset: Union[dict, Any], device: str = 'auto') -> Any:
    """The former wrapper's spelling: builds ``dataset`` (a config or a built in-memory
    source) and returns that source itself with ``device`` set, i.e. the same as
    ``dict(type=<source>, ..., device=device)``, which configs use."""
    if isinstance(dataset, dict):
        dataset = DATASETS.build(dataset)
    if not callable(getattr(dataset, 'use_device', None)):
        raise TypeError(f'device-resident data needs an in-memory data source with '
                        f'get_images() (e.g. FashionMNIST, CIFAR10, STL10); '
                        f'{type(dataset).__name__} has none; use the per-image CPU pipeline')
    dataset.use_device(device)
    return dataset


@FUNCTIONS.register_module()
def device_collate(data_batch: Union[dict, List[Any]]) -> Any:
    """Pass a device-resident batch through; anything else goes to ``pseudo_collate``,
    whose data samples, when every one has a ``sample_idx``, become
    :class:`~selfemb.utils.samples.IndexedSamples` with a CPU index tensor."""
    if isinstance(data_batch, dict) and isinstance(data_batch.get('inputs'), Tensor):
        return data_batch
    batch = pseudo_collate(data_batch)
    samples = batch.get('data_samples') if isinstance(batch, dict) else None
    if isinstance(samples, list) and samples and not isinstance(samples, IndexedSamples) \
            and all(isinstance(getattr(s, 'sample_idx', None), int) for s in samples):
        batch['data_samples'] = IndexedSamples(samples, indices=torch.tensor(
            [s.sample_idx for s in samples], dtype=torch.long))
    return batch
