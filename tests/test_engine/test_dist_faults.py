"""A rank that stops (SIGSTOP) or fails ends a 2-process gloo training run of tools/train.py
within ``env_cfg.dist_cfg.timeout``: the other rank exits non-zero and says why."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, List, Tuple

import pytest

from selfemb.engine import dist as selfemb_dist
from selfemb.engine.dist import check_timeout, fault_kind, init_distributed
from tests._dist_utils import free_port

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 15  # env_cfg.dist_cfg.timeout of the runs below, seconds
MARGIN = 25  # the report (at most 4 s), logging and exit, on a loaded 2-core machine
FAULT_HOOK = '''
from mmengine.hooks import Hook
from selfemb.registry import HOOKS


@HOOKS.register_module()
class RaiseOnRankHook(Hook):
    def __init__(self, rank, iteration):
        self.rank, self.iteration = rank, iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.rank == self.rank and runner.iter + 1 >= self.iteration:
            raise RuntimeError(f'injected fault on rank {self.rank}')
'''


def options(data_root: Path, *extra: str) -> List[str]:
    """A long tiny ISIF run on 64 images (2 steps per epoch and rank) on gloo."""
    return ['--cfg-options', f'train_dataloader.dataset.data_root={data_root}',
            'train_dataloader.batch_size=16', 'train_cfg.max_epochs=1000',
            'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=1000',
            'env_cfg.dist_cfg.backend=gloo', f'env_cfg.dist_cfg.timeout={TIMEOUT}', *extra]


def start(config: str, work_dir: Path, args: List[str], torchrun: bool,
          pythonpath: str = str(ROOT)) -> Tuple[List[subprocess.Popen], List[str]]:
    """Two ranks of tools/train.py: one ``tools/dist_train.sh`` process (torchrun), or two
    plain processes as srun / mpirun start them (no agent that ends the others). Returns
    the processes and the list their merged output lines are appended to."""
    env = {**os.environ, 'PYTHONPATH': pythonpath, 'OMP_NUM_THREADS': '1'}
    port, common = str(free_port()), [config, '--work-dir', str(work_dir)]
    if torchrun:
        commands = [['bash', 'tools/dist_train.sh', common[0], '2', *common[1:], *args]]
        envs = [dict(env, PYTHON=sys.executable, PORT=port)]
    else:
        commands = [[sys.executable, 'tools/train.py', *common, '--launcher', 'pytorch', *args]
                    ] * 2
        envs = [dict(env, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2',
                     MASTER_ADDR='127.0.0.1', MASTER_PORT=port) for rank in (0, 1)]
    lines: List[str] = []
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=e, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
             for cmd, e in zip(commands, envs)]
    for proc in procs:
        threading.Thread(target=lambda p=proc: lines.extend(p.stdout), daemon=True).start()
    return procs, lines


def rank_pids(procs: List[subprocess.Popen]) -> List[int]:
    """The ranks' process ids in rank order (torchrun's workers are its children)."""
    if len(procs) == 2:
        return [proc.pid for proc in procs]
    with open(f'/proc/{procs[0].pid}/task/{procs[0].pid}/children') as f:
        workers = [int(pid) for pid in f.read().split()]
    assert len(workers) == 2, workers
    return sorted(workers, key=rank_of)


def rank_of(pid: int) -> int:
    with open(f'/proc/{pid}/environ', 'rb') as f:
        env = dict(item.split(b'=', 1) for item in f.read().split(b'\0') if b'=' in item)
    return int(env[b'RANK'])


def running(pid: int) -> bool:
    """False once ``pid`` has exited (gone, or a zombie its parent has not reaped)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               procs: List[subprocess.Popen], lines: List[str]) -> float:
    """Seconds until ``condition()`` held; fails after ``timeout`` or if the run ended."""
    begin = time.monotonic()
    while not condition():
        if time.monotonic() - begin > timeout or all(p.poll() is not None for p in procs):
            pytest.fail(f'{what}: not within {timeout} s\n' + ''.join(lines)[-3000:])
        time.sleep(0.2)
    return time.monotonic() - begin


def stop(procs: List[subprocess.Popen]) -> None:
    """SIGKILL what is left of a run: the ranks while their parent can still reap them
    (so the ids are theirs), then the launcher."""
    if len(procs) == 1 and procs[0].poll() is None:
        for pid in rank_pids(procs):
            os.kill(pid, signal.SIGKILL)
    for proc in procs:
        proc.kill()
        proc.wait()


def test_timeout_must_be_positive_seconds():
    assert check_timeout({'backend': 'gloo'}) is None
    assert check_timeout({'timeout': 20}) == 20.0
    for bad in (0, -5, '20', True, float('nan')):
        with pytest.raises(ValueError, match='env_cfg.dist_cfg.timeout must be a positive'):
            check_timeout({'timeout': bad})
    with pytest.raises(ValueError, match="got '30'"):  # before any process group starts
        init_distributed('pytorch', {'backend': 'gloo', 'timeout': '30'})


def test_nccl_timeout_needs_async_error_handling(monkeypatch):
    for name in ('TORCH_NCCL_ASYNC_ERROR_HANDLING', 'NCCL_ASYNC_ERROR_HANDLING'):
        monkeypatch.delenv(name, raising=False)
    selfemb_dist._nccl_enforces_timeout()
    assert os.environ['TORCH_NCCL_ASYNC_ERROR_HANDLING'] == '1'  # as torchrun sets it
    monkeypatch.setenv('TORCH_NCCL_ASYNC_ERROR_HANDLING', '3')
    selfemb_dist._nccl_enforces_timeout()
    assert os.environ['TORCH_NCCL_ASYNC_ERROR_HANDLING'] == '3'  # a user's choice stays
    monkeypatch.setenv('TORCH_NCCL_ASYNC_ERROR_HANDLING', '0')
    monkeypatch.delenv('TORCH_NCCL_BLOCKING_WAIT', raising=False)
    with pytest.warns(UserWarning, match='will hang'):
        selfemb_dist._nccl_enforces_timeout()


def test_fault_kind():
    gloo = '[gloo/transport/tcp/unbound_buffer.cc:78] Timed out waiting 15000ms for recv'
    assert fault_kind(RuntimeError(gloo)) == 'timeout'
    assert fault_kind(RuntimeError('Read error: Connection reset by peer')) == 'peer'
    assert fault_kind(ValueError('timeout must be positive')) == 'own'
    assert fault_kind(RuntimeError('CUDA out of memory')) == 'own'


@pytest.mark.dist
@pytest.mark.parametrize('torchrun, stopped', [(True, 1), (False, 0)])
def test_stopped_rank_ends_the_run_after_the_timeout(torchrun, stopped, tmp_path, tiny_fmnist):
    """torchrun: its agent holds the store. Plain processes: rank 0 holds it, and stopping
    rank 0 freezes the store too; the survivor must not wait for it either."""
    procs, lines = start('configs/isif/r18_fmnist.py', tmp_path,
                         options(tiny_fmnist, 'custom_hooks=[]'), torchrun)  # no kNN
    try:
        wait_until(lambda: any('Epoch(train)' in line for line in list(lines)), 300,
                   'first training iteration logged', procs, lines)
        pids = rank_pids(procs)
        os.kill(pids[stopped], signal.SIGSTOP)
        waited = wait_until(lambda: not running(pids[1 - stopped]), TIMEOUT + MARGIN,
                            f'rank {1 - stopped} ends after rank {stopped} stopped', procs, lines)
        os.kill(pids[stopped], signal.SIGKILL)  # torchrun does so after a 30 s grace period
        assert all(proc.wait(timeout=60) != 0 for proc in procs)
    finally:
        stop(procs)
    log = ''.join(lines)
    assert waited > TIMEOUT / 2, log[-3000:]  # it did wait for its peer
    assert 'Timed out waiting' in log, log[-3000:]  # gloo's error, raised in the survivor
    why = (f'rank {stopped} reported no error' if torchrun else
           'the rendezvous store (in rank 0, which is likely stopped or hung) did not answer')
    assert (f'rank {1 - stopped} of 2: a collective operation timed out after '
            f'env_cfg.dist_cfg.timeout = {TIMEOUT} s; {why}') in log, log[-3000:]
    print(f'rank {1 - stopped} exited {waited:.1f} s after rank {stopped} stopped')


@pytest.mark.dist
def test_failing_rank_ends_the_other_without_a_launcher(tmp_path, tiny_fmnist):
    """Plain processes: nothing kills rank 0 for it; it learns rank 1's error."""
    (tmp_path / 'fault_hook.py').write_text(FAULT_HOOK)
    config = tmp_path / 'faulty.py'
    config.write_text(f"_base_ = ['{ROOT}/configs/isif/r18_fmnist.py']\n"
                      "custom_imports = dict(imports=['fault_hook'], allow_failed_imports=False)\n"
                      "custom_hooks = [dict(type='RaiseOnRankHook', rank=1, iteration=2)]\n")
    procs, lines = start(str(config), tmp_path / 'work', options(tiny_fmnist), torchrun=False,
                         pythonpath=f'{ROOT}:{tmp_path}')
    try:
        returncodes = [proc.wait(timeout=300) for proc in procs]
    finally:
        stop(procs)
    log = ''.join(lines)
    assert returncodes == [1, 1], log[-3000:]
    assert 'rank 1 of 2 failed with RuntimeError: injected fault on rank 1' in log, log[-3000:]
    assert ('rank 0 of 2: the connection to another rank broke; rank 1 failed with '
            'RuntimeError: injected fault on rank 1') in log, log[-3000:]
