"""Data sources, the device-resident data path and multi-view helpers."""
from .base import InMemoryDataset
from .checks import IndicesError, SampleLoadError
from .cifar import CIFAR10, CIFAR100
from .device import DeviceDataset, device_collate
from .encoded_image import LoadImageBytes
from .fashion_mnist import FashionMNIST
from .image_list import ImageFolder, ImageList
from .long_tail import long_tail_counts, long_tail_indices
from .neighbour_pairs import NeighbourPairDataset
from .retrieval import CUB200, Cars196, StanfordOnlineProducts
from .samplers import ClassBalancedSampler, ResumableSampler
from .stl10 import STL10
from .subset import SubsetFromFile, read_index_file
from .svhn import SVHN
from .voc07 import VOC07Classification, read_voc07_targets
from .worker_init import seed_worker_from_torch

__all__ = [
    'InMemoryDataset', 'FashionMNIST', 'CIFAR10', 'CIFAR100', 'STL10', 'SVHN', 'ImageList',
    'ImageFolder', 'DeviceDataset', 'device_collate', 'seed_worker_from_torch', 'CUB200',
    'Cars196', 'StanfordOnlineProducts', 'SubsetFromFile', 'read_index_file',
    'VOC07Classification', 'read_voc07_targets', 'ClassBalancedSampler',
    'long_tail_counts', 'long_tail_indices', 'NeighbourPairDataset', 'IndicesError',
    'SampleLoadError', 'LoadImageBytes', 'ResumableSampler'
]
