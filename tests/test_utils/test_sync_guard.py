"""sync_guard refuses every host-synchronising operation and lets the others run."""
import pytest
import torch
import torch.nn.functional as F

from selfemb.utils.sync_guard import HostSyncError, SyncGuard, sync_guard

X = torch.arange(6.0)
MASK = X > 2
LONG = torch.tensor([0, 2, 2, 5])

SYNCS = {
    'item': lambda: X[0].item(),
    'tolist': lambda: X.tolist(),
    'numpy': lambda: X.numpy(),
    'cpu': lambda: X.cpu(),
    'bool': lambda: bool(X[1]),
    'if': lambda: 1 if (X > 1).any() else 0,
    'int': lambda: int(X[1]),
    'float': lambda: float(X[1]),
    'index': lambda: [0, 1, 2][LONG[1]],
    'format': lambda: f'{X[0]:.2f}',
    'repr': lambda: repr(X),
    'nonzero': lambda: MASK.nonzero(),
    'torch.nonzero': lambda: torch.nonzero(MASK),
    'argwhere': lambda: torch.argwhere(MASK),
    'one-argument where': lambda: torch.where(MASK),
    'masked_select': lambda: torch.masked_select(X, MASK),
    'unique': lambda: torch.unique(LONG),
    'Tensor.unique': lambda: LONG.unique(),
    'unique_consecutive': lambda: torch.unique_consecutive(LONG),
    'bincount': lambda: torch.bincount(LONG, minlength=8),
    'mask read': lambda: X[MASK],
    'mask read in a tuple': lambda: X.view(2, 3)[MASK.view(2, 3)[:, 0], 1:],
    'mask write': lambda: X.clone().__setitem__(MASK, 0.0),
    'mask index_put_': lambda: X.clone().index_put_((MASK, ), torch.tensor(0.0)),
    'repeat_interleave without output_size': lambda: torch.repeat_interleave(X, LONG[:1]),
    'tensor from host data for a device': lambda: torch.tensor(0.5, device=X.device),
    'as_tensor from host data for a device': lambda: torch.as_tensor([1, 2], device='cpu'),
    'new_tensor': lambda: X.new_tensor(0.5),
}


@pytest.mark.parametrize('name', sorted(SYNCS))
def test_guard_refuses_each_synchronising_op(name):
    with pytest.raises(HostSyncError, match='host synchronisation'):
        with sync_guard('cpu'):
            SYNCS[name]()


def test_guard_lets_device_side_work_run():
    net = torch.nn.Linear(6, 3)
    with sync_guard('cpu'):
        y = net(X.view(1, 6)).sum()
        y.backward()
        picked = X[LONG]  # an int64 index: a gather, no sync
        written = X.clone()
        written[LONG] = 1.0
        masked = X.masked_fill(MASK, 0.0)
        chosen = torch.where(MASK, X, -X)
        counts = torch.zeros(6, dtype=torch.long).scatter_add_(0, LONG, torch.ones_like(LONG))
        hot = F.one_hot(LONG, 6).sum(0)
        repeated = torch.repeat_interleave(X[:2], torch.tensor([1, 2]), output_size=3)
        sorted_x = torch.sort(X, descending=True, stable=True).values
        scalar = X.new_full((), 0.5) + torch.full((), 2.0, device=X.device)
        host = torch.as_tensor([1, 2])  # host data kept on the host, no device named
        same = torch.as_tensor(X, device=X.device)  # a tensor already: no copy
        n, rows = X.size(0), X.shape[0]  # Python ints are fine
        flag = bool(n > 2) and int(3.0) == 3
    assert picked.tolist() == [0.0, 2.0, 2.0, 5.0]
    assert written[[0, 2, 5]].tolist() == [1.0, 1.0, 1.0]
    assert masked.tolist() == [0.0, 1.0, 2.0, 0.0, 0.0, 0.0]
    assert chosen.tolist() == [-0.0, -1.0, -2.0, 3.0, 4.0, 5.0]
    assert counts.tolist() == hot.tolist() == [1, 0, 2, 0, 0, 1]
    assert repeated.tolist() == [0.0, 1.0, 1.0]
    assert sorted_x[0] == 5.0 and n == rows == 6 and flag
    assert scalar == 2.5 and host.tolist() == [1, 2] and same is X
    assert net.weight.grad is not None


def test_guard_ends_with_its_block():
    with pytest.raises(HostSyncError):
        with SyncGuard():
            X[0].item()
    assert X[0].item() == 0.0  # allowed again outside


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_guard_on_cuda_uses_the_sync_debug_mode():
    x = torch.arange(4.0, device='cuda')
    with pytest.raises(RuntimeError, match='synchroniz'):
        with sync_guard('cuda'):
            (x * 2).sum().to('cpu')  # a copy to the host the mode lets through: CUDA's detector
    assert torch.cuda.get_sync_debug_mode() == 0


def _known_sync():
    return X[0].item()


def test_allowed_callers_pass_and_nothing_else():
    allow = {'tests/test_utils/test_sync_guard.py:_known_sync': 'a known host read'}
    with sync_guard('cpu', allow=allow):
        assert _known_sync() == 0.0  # called from the allowed function
        with pytest.raises(HostSyncError):
            X[1].item()  # anywhere else still refused
