"""Shared fixtures: tiny data sets written in their real on-disk formats."""
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(2)


def write_fashion_mnist(root: Path, num_train: int = 64, num_test: int = 32,
                        seed: int = 0) -> Path:
    """Write idx3/idx1 .gz files like the Debian package's, with class-dependent images."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, n in (('train', num_train), ('t10k', num_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28), dtype=np.uint8)
        for i, label in enumerate(labels):  # a bright bar whose position encodes the class
            images[i, 2 + 2 * label:4 + 2 * label, 4:24] = 230
        with gzip.open(root / f'{prefix}-images-idx3-ubyte.gz', 'wb') as f:
            f.write(struct.pack('>IIII', 2051, n, 28, 28) + images.tobytes())
        with gzip.open(root / f'{prefix}-labels-idx1-ubyte.gz', 'wb') as f:
            f.write(struct.pack('>II', 2049, n) + labels.tobytes())
    return root


@pytest.fixture(scope='session')
def tiny_fmnist(tmp_path_factory) -> Path:
    return write_fashion_mnist(tmp_path_factory.mktemp('fmnist'))
