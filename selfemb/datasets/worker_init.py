"""DataLoader worker seeding that makes augmentations resumable and distinct per rank."""
import random

import numpy as np
import torch
from mmengine.dist import get_rank

from selfemb.registry import FUNCTIONS


@FUNCTIONS.register_module()
def seed_worker_from_torch(worker_id: int) -> None:
    """Seed numpy and ``random`` in a worker from torch's per-worker seed and the rank.

    torch derives each worker's seed from the main process's generator when the epoch's
    iterator is created, so with ``persistent_workers=False`` the augmentations differ
    every epoch, differ between ranks, and are reproduced exactly after ``--resume``
    (``RandomStateHook`` restores the main generator). mmengine's default worker seeding
    uses a fixed seed per worker instead, which repeats augmentations across epochs of
    non-persistent workers.
    """
    seed = (torch.initial_seed() + 1_000_003 * get_rank()) % 2**32
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
