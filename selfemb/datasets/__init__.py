"""Data sources, the device-resident data path and multi-view helpers."""
from .base import InMemoryDataset
from .cifar import CIFAR10, CIFAR100
from .device import DeviceDataset, device_collate
from .fashion_mnist import FashionMNIST
from .image_list import ImageFolder, ImageList
from .long_tail import LongTailDataset, long_tail_counts, long_tail_indices
from .stl10 import STL10
from .svhn import SVHN
from .worker_init import seed_worker_from_torch

__all__ = [
    'InMemoryDataset', 'FashionMNIST', 'CIFAR10', 'CIFAR100', 'STL10', 'SVHN', 'ImageList',
    'ImageFolder', 'DeviceDataset', 'device_collate', 'seed_worker_from_torch', 'LongTailDataset',
    'long_tail_counts', 'long_tail_indices'
]
