"""Start the process group for a launcher, also on machines without a GPU."""
import gc

import torch
import torch.distributed as dist
from mmengine.dist import init_dist


def init_distributed(launcher: str, dist_cfg: dict) -> None:
    """``mmengine.dist.init_dist``, except that the ``pytorch`` launcher on a machine
    without CUDA starts a ``gloo`` group instead of selecting a GPU (mmengine's
    ``init_dist`` always calls ``torch.cuda.set_device``). A no-op for ``none`` or when
    a group already exists; the Runner then finds the group and keeps it."""
    if launcher == 'none' or (dist.is_available() and dist.is_initialized()):
        return
    if launcher == 'pytorch' and not torch.cuda.is_available():
        backend = dist_cfg.get('backend', 'gloo')
        if backend != 'gloo':
            raise ValueError(f"no GPU here: the {backend!r} backend cannot run; add "
                             '--cfg-options env_cfg.dist_cfg.backend=gloo')
        dist.init_process_group('gloo')
        return
    init_dist(launcher, **dist_cfg)


def shutdown_distributed() -> None:
    """Wait for every rank, then close the process group, so no rank exits while another
    still talks to it (gloo aborts a process whose peer vanished mid-connection).

    Unreachable objects are collected first: a DDP wrapper (kept alive by reference
    cycles, e.g. a finished Runner's) holds the group, and if it outlives
    ``destroy_process_group`` the group's threads are torn down at interpreter exit,
    which aborts the process ("terminate called without an active exception"). Callers
    drop their Runner / model before calling this."""
    gc.collect()
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
