"""Start and end the process group for a launcher, also on machines without a GPU, so that
a rank that fails or stops ends the whole run within ``env_cfg.dist_cfg.timeout``."""
import datetime
import gc
import logging
import math
import os
import sys
import threading
import time
import warnings
from types import TracebackType
from typing import Dict, Optional, Tuple

import torch
import torch.distributed as dist
from mmengine.dist import init_dist
from mmengine.logging import MMLogger
from torch.distributed.constants import default_pg_nccl_timeout, default_pg_timeout

_NCCL_ERROR_HANDLING = ('TORCH_NCCL_ASYNC_ERROR_HANDLING', 'NCCL_ASYNC_ERROR_HANDLING')
_TIMEOUT_WORDS = ('timed out', 'timeout')
_PEER_WORDS = ('connection closed', 'connection reset', 'broken pipe', 'connection refused',
               'end of file')
_REPORT_GRACE_S = 2.0  # how long a rank waits for the others' reports before it exits
_timeout_s = default_pg_timeout.total_seconds()


def check_timeout(dist_cfg: dict) -> Optional[float]:
    """``dist_cfg['timeout']`` (seconds, mmengine's convention) as a float, or None."""
    timeout = dist_cfg.get('timeout')
    if timeout is None:
        return None
    if (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout) or timeout <= 0):
        raise ValueError('env_cfg.dist_cfg.timeout must be a positive number of seconds '
                         f'(e.g. 1800), got {timeout!r}')
    return float(timeout)


def init_distributed(launcher: str, dist_cfg: dict) -> None:
    """``mmengine.dist.init_dist`` with ``dist_cfg`` (``backend``, ``timeout`` in seconds),
    except that the ``pytorch`` launcher on a machine without CUDA starts a ``gloo`` group
    (mmengine's ``init_dist`` always calls ``torch.cuda.set_device``). A no-op for ``none``
    or when a group already exists; the Runner then finds the group and keeps it.

    Every collective that waits longer than the timeout fails (NCCL: the watchdog ends
    the process), and an uncaught exception then ends this process at once with a report
    of what happened, so no rank waits for a dead or stopped one (see ``_on_uncaught``)."""
    timeout = check_timeout(dist_cfg)
    if launcher == 'none' or (dist.is_available() and dist.is_initialized()):
        return
    on_cpu = launcher == 'pytorch' and not torch.cuda.is_available()
    backend = dist_cfg.get('backend', 'gloo' if on_cpu else 'nccl')
    if on_cpu:
        if backend != 'gloo':
            raise ValueError(f"no GPU here: the {backend!r} backend cannot run; add "
                             '--cfg-options env_cfg.dist_cfg.backend=gloo')
        kwargs = {} if timeout is None else {'timeout': datetime.timedelta(seconds=timeout)}
        dist.init_process_group('gloo', **kwargs)
    else:
        if backend == 'nccl':
            _nccl_enforces_timeout()
        init_dist(launcher, **dict(dist_cfg))  # converts the timeout to a timedelta
    global _timeout_s
    default = default_pg_nccl_timeout if backend == 'nccl' else default_pg_timeout
    _timeout_s = timeout or (default or default_pg_timeout).total_seconds()
    if dist.get_world_size() > 1:
        _install_excepthook()


def _nccl_enforces_timeout() -> None:
    """NCCL's timeout ends a stalled collective only with async error handling (the
    watchdog then takes the process down) or blocking wait. Set torchrun's value where
    unset (torch's own default, 3, also does; slurm / mpi launches get the same), and
    warn where a user turned it off."""
    values = {name: os.environ[name] for name in _NCCL_ERROR_HANDLING if name in os.environ}
    if not values:
        os.environ[_NCCL_ERROR_HANDLING[0]] = '1'
        return
    name, value = next(iter(values.items()))
    if value.strip() == '0' and os.environ.get('TORCH_NCCL_BLOCKING_WAIT', '0') == '0':
        warnings.warn(f'{name}=0: a stalled NCCL collective will hang instead of failing '
                      'after env_cfg.dist_cfg.timeout; unset it or set it to 1')


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


def fault_kind(exc: BaseException) -> str:
    """'timeout' (a collective or the store waited too long), 'peer' (another rank's
    process went away mid-connection) or 'own' (this rank's error)."""
    text = f'{type(exc).__name__}: {exc}'.lower()
    if isinstance(exc, RuntimeError) and any(word in text for word in _TIMEOUT_WORDS):
        return 'timeout'
    if isinstance(exc, (RuntimeError, ConnectionError)) and any(w in text for w in _PEER_WORDS):
        return 'peer'
    return 'own'


def describe_fault(exc: BaseException) -> str:
    """Why this rank stops: its own error, or which rank it waited for. Ranks tell each
    other through the launcher's key-value store, in bounded time."""
    rank, world = dist.get_rank(), dist.get_world_size()
    kind, error = fault_kind(exc), f'{type(exc).__name__}: {exc}'.strip().splitlines()[0]
    head = f'rank {rank} of {world}'
    reports = _exchange_reports(rank, world, kind, error)
    if kind == 'own':
        return (f'{head} failed with {error}; ending it, so the other ranks stop as well '
                f'(at the latest after env_cfg.dist_cfg.timeout = {_timeout_s:g} s)')
    what = (f'a collective operation timed out after env_cfg.dist_cfg.timeout = '
            f'{_timeout_s:g} s' if kind == 'timeout' else 'the connection to another rank broke')
    if reports is None:
        host = ('torchrun' if os.environ.get('TORCHELASTIC_USE_AGENT_STORE') == 'True'
                else 'rank 0, which is likely stopped or hung')
        why = f'the rendezvous store (in {host}) did not answer, so the faulty rank is unknown'
    else:
        causes = [f'rank {r} failed with {text}' for r, (k, text) in sorted(reports.items())
                  if k == 'own']
        silent = ', '.join(str(r) for r in range(world) if r != rank and r not in reports)
        why = '; '.join(causes) or (
            f'rank {silent} reported no error: stopped, hung, killed or crashed' if silent
            else 'no rank failed on its own or went silent: they likely waited in different '
            'collective operations (a deadlock), or one rank worked alone for longer')
    return (f'{head}: {what}; {why}. Ending this rank; once the cause is fixed, '
            'restart with --resume to continue from the last checkpoint.')


def _exchange_reports(rank: int, world: int, kind: str,
                      error: str) -> Optional[Dict[int, Tuple[str, str]]]:
    """Post this rank's fault to the store and collect the other ranks' (none for an own
    error); None when the store does not answer in time (its host may be the stopped
    rank: a store call then blocks, so it runs in a thread that is left behind)."""
    answer: Dict[str, Dict[int, Tuple[str, str]]] = {}

    def exchange() -> None:
        try:
            store = dist.distributed_c10d._get_default_store()
            store.set(f'selfemb_fault_{rank}', f'{kind}\n{error}')
            answer['reports'] = {} if kind == 'own' else _wait_for_reports(store, rank, world)
        except Exception:  # e.g. the store's host is gone: the reports stay unknown
            pass

    thread = threading.Thread(target=exchange, daemon=True)
    thread.start()
    thread.join(_REPORT_GRACE_S + 2)
    return answer.get('reports')


def _wait_for_reports(store: dist.Store, rank: int, world: int) -> Dict[int, Tuple[str, str]]:
    """The other ranks' fault reports, ``{rank: (kind, error)}``, that arrive within
    ``_REPORT_GRACE_S`` (less once every rank reported or one reported its own error)."""
    reports: Dict[int, Tuple[str, str]] = {}
    deadline = time.monotonic() + _REPORT_GRACE_S
    while True:
        for other in range(world):
            key = f'selfemb_fault_{other}'
            if other != rank and other not in reports and store.check([key]):
                kind, _, text = store.get(key).decode().partition('\n')
                reports[other] = (kind, text)
        done = len(reports) == world - 1 or any(k == 'own' for k, _ in reports.values())
        if done or time.monotonic() > deadline:
            return reports
        time.sleep(0.1)


def _install_excepthook() -> None:
    """Chain ``_on_uncaught`` after the current ``sys.excepthook`` (torch's adds the
    ``[rankN]:`` prefix to the traceback)."""
    previous = sys.excepthook

    def hook(exc_type: type, exc: BaseException, tb: Optional[TracebackType]) -> None:
        try:
            previous(exc_type, exc, tb)
        finally:
            _on_uncaught(exc)

    sys.excepthook = hook


def _on_uncaught(exc: BaseException) -> None:
    """Report and end the process now (exit status 1): after a failed collective the group
    is unusable, and its destructors or an atexit handler could wait for the peer."""
    try:
        if dist.is_initialized():
            message = describe_fault(exc)
            try:  # on the console and in the run's log file
                MMLogger.get_current_instance().error(message)
            except Exception:
                print(message, file=sys.stderr)
    finally:
        logging.shutdown()  # flush the log files
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(1)
