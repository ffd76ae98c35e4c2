"""Run a function in several real ``gloo`` processes on CPU, for tests of distributed code.

``run_in_processes(fn, world_size, *args)`` spawns ``world_size`` processes (torch
multiprocessing, 'spawn'), joins them into a gloo process group on a free local TCP port,
calls ``fn(*args)`` in each and returns the list of return values in rank order. An
exception in any rank fails the call with that rank's traceback. ``fn``, its arguments
and return values must be picklable (define ``fn`` at module level); mmengine.dist
helpers see the group like in a real launch (RANK / WORLD_SIZE / LOCAL_RANK are set).
"""
import datetime
import gc
import os
import pickle
import socket
import tempfile
from typing import Any, Callable, List

import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _worker(rank: int, fn: Callable, world_size: int, port: int, args: tuple,
            out_dir: str, timeout: float) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_WORLD_SIZE=str(world_size), MASTER_ADDR='127.0.0.1',
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch_dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                                  world_size=world_size,
                                  timeout=datetime.timedelta(seconds=timeout))
    try:
        result = fn(*args)
        with open(os.path.join(out_dir, f'{rank}.pkl'), 'wb') as f:
            pickle.dump(result, f)
        del result
        gc.collect()  # a DDP model left in a reference cycle must not outlive the group
        torch_dist.barrier()  # no rank leaves while another still uses the group
    finally:
        torch_dist.destroy_process_group()


def run_in_processes(fn: Callable, world_size: int = 2, *args: Any,
                     timeout: float = 120.0) -> List[Any]:
    """``[fn(*args) on rank r for r in range(world_size)]``, run in a gloo process group;
    a collective that waits longer than ``timeout`` seconds fails instead of hanging."""
    with tempfile.TemporaryDirectory() as out_dir:
        # join=True re-raises the first failing rank's exception (with its traceback)
        mp.spawn(_worker, args=(fn, world_size, free_port(), args, out_dir, timeout),
                 nprocs=world_size, join=True)
        results = []
        for rank in range(world_size):
            with open(os.path.join(out_dir, f'{rank}.pkl'), 'rb') as f:
                results.append(pickle.load(f))
    return results
