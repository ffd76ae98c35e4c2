"""CIFAR-10 / CIFAR-100 from the official python pickle batches."""
import os.path as osp
import pickle
from typing import List, Tuple

import numpy as np

from selfemb.registry import DATASETS

from .base import InMemoryDataset, first_existing

# what a CIFAR batch may reference: numpy arrays, dtypes and scalars, nothing else
_ALLOWED = {('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
            ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
            ('numpy.core.numeric', '_frombuffer'), ('numpy._core.numeric', '_frombuffer'),
            ('numpy', 'ndarray'), ('numpy', 'dtype'), ('_codecs', 'encode')}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles only plain containers and numpy arrays (a data file must not run code)."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f'forbidden object {module}.{name}')
        return super().find_class(module, name)


def load_batch(path: str) -> dict:
    """Load one CIFAR pickle (python 2 pickles, hence ``latin1``) as a dict."""
    try:
        with open(path, 'rb') as f:
            batch = _BatchUnpickler(f, encoding='latin1').load()
    except FileNotFoundError:
        raise
    except Exception as e:  # truncated, not a pickle, forbidden content
        raise ValueError(f'{path}: not a readable CIFAR pickle batch ({e!r})') from e
    if not isinstance(batch, dict):
        raise ValueError(f'{path}: expected a dict, got {type(batch).__name__}')
    return batch


@DATASETS.register_module()
class CIFAR10(InMemoryDataset):
    """CIFAR-10 (Krizhevsky 2009): 50k train / 10k test 32x32 RGB images, 10 classes.

    ``data_root`` is the extracted ``cifar-10-batches-py`` folder or its parent. Train is
    ``data_batch_1..5`` in order, test is ``test_batch``; each batch is a dict with
    ``data`` (N x 3072 uint8, channel planes R, G, B of row-major 32x32) and ``labels``.
    ``batches.meta`` (``label_names``) is checked against the class names when present.
    """

    METAINFO = dict(classes=('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
                             'horse', 'ship', 'truck'))
    SPLITS = ('train', 'test')
    FOLDER = 'cifar-10-batches-py'
    TRAIN = [f'data_batch_{i}' for i in range(1, 6)]
    TEST = ['test_batch']
    META, META_KEY, LABEL_KEY = 'batches.meta', 'label_names', 'labels'
    URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'

    def _folder(self) -> str:
        names = self.TRAIN if self.split == 'train' else self.TEST
        hint = (f'Download and extract {self.URL} (see docs/data_preparation.md); data_root '
                f'is the {self.FOLDER} folder or its parent.')
        path = first_existing(self.data_root, [names[0], osp.join(self.FOLDER, names[0])], hint)
        folder = osp.dirname(path)
        for name in names[1:]:
            first_existing(folder, [name], hint)
        return folder

    def _check_meta(self, folder: str) -> None:
        path = osp.join(folder, self.META)
        if not osp.exists(path):
            return
        names: List[str] = list(load_batch(path).get(self.META_KEY, []))
        if tuple(names) != tuple(self.METAINFO['classes']):
            raise ValueError(f'{path}: {self.META_KEY} {names} differ from the '
                             f'{type(self).__name__} classes {self.METAINFO["classes"]}')

    def load_arrays(self) -> Tuple[np.ndarray, np.ndarray]:
        folder = self._folder()
        self._check_meta(folder)
        images, labels = [], []
        for name in self.TRAIN if self.split == 'train' else self.TEST:
            path = osp.join(folder, name)
            batch = load_batch(path)
            if 'data' not in batch or self.LABEL_KEY not in batch:
                raise ValueError(f'{path}: missing key "data" or "{self.LABEL_KEY}" '
                                 f'(keys: {sorted(batch)})')
            data = np.asarray(batch['data'])
            label = np.asarray(batch[self.LABEL_KEY], np.int64).reshape(-1)
            if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
                raise ValueError(f'{path}: data must be N x 3072 uint8, got shape '
                                 f'{data.shape} dtype {data.dtype}')
            if len(label) != len(data):
                raise ValueError(f'{path}: {len(data)} images but {len(label)} labels')
            num_classes = len(self.METAINFO['classes'])
            if len(label) and (label.min() < 0 or label.max() >= num_classes):
                raise ValueError(f'{path}: labels outside 0..{num_classes - 1}')
            images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.append(label)
        return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


@DATASETS.register_module()
class CIFAR100(CIFAR10):
    """CIFAR-100: 50k train / 10k test 32x32 RGB images, 100 fine classes.

    ``data_root`` is the extracted ``cifar-100-python`` folder or its parent, holding the
    ``train`` and ``test`` pickles (``data``, ``fine_labels``) and ``meta``
    (``fine_label_names``). Only the fine labels are used.
    """

    METAINFO = dict(classes=(
        'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle',
        'bottle', 'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle',
        'caterpillar', 'cattle', 'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach',
        'couch', 'crab', 'crocodile', 'cup', 'dinosaur', 'dolphin', 'elephant', 'flatfish',
        'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard', 'lamp',
        'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree',
        'motorcycle', 'mountain', 'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid',
        'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree', 'plain', 'plate', 'poppy',
        'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket', 'rose', 'sea',
        'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
        'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone',
        'television', 'tiger', 'tractor', 'train', 'trout', 'tulip', 'turtle', 'wardrobe',
        'whale', 'willow_tree', 'wolf', 'woman', 'worm'))
    FOLDER = 'cifar-100-python'
    TRAIN = ['train']
    TEST = ['test']
    META, META_KEY, LABEL_KEY = 'meta', 'fine_label_names', 'fine_labels'
    URL = 'https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz'
