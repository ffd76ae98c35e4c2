"""on_rank0: rank 0's value or error on every rank; frozen_rng: the RNG streams stay put."""
import threading

import pytest
import torch

from selfemb.utils.rank0 import frozen_rng, on_rank0
from tests._dist_utils import run_in_processes


class Unpicklable(Exception):
    def __init__(self, message, extra):  # pickle calls Unpicklable(message): it fails
        super().__init__(message)
        self.extra = extra


def _fail(message):
    raise ValueError(message)


def test_single_process_is_a_plain_call():
    calls = []
    assert on_rank0(lambda a, b=0: calls.append((a, b)) or a + b, 2, b=3) == 5
    assert calls == [(2, 3)]
    err = ValueError('bad')

    def raise_it():
        raise err

    with pytest.raises(ValueError) as info:
        on_rank0(raise_it)
    assert info.value is err
    assert on_rank0(threading.Lock) is not None  # nothing is pickled in a single process


def test_frozen_rng_restores_the_cpu_stream():
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    with frozen_rng():
        torch.rand(100)
    assert torch.equal(torch.rand(4), expected)


def _outcome(fn, *args):
    try:
        return 'value', on_rank0(fn, *args)
    except Exception as err:
        return 'error', type(err).__name__, str(err)


def _rank():
    import torch.distributed as dist
    return dist.get_rank()


def _each_case():
    import torch.distributed as dist
    rank = dist.get_rank()
    called = []

    def value():
        called.append(rank)
        return {'rank': rank, 'tensor': torch.arange(3)}

    def unpicklable():
        raise Unpicklable('no way back', extra=1)

    return dict(value=_outcome(value), error=_outcome(_fail, 'rank 0 failed'),
                unpicklable=_outcome(unpicklable), not_sendable=_outcome(threading.Lock),
                after=_outcome(_rank), called=called)


@pytest.mark.dist
def test_two_gloo_processes_get_rank0_value_or_error():
    first, second = run_in_processes(_each_case, 2, timeout=60.0)
    kind, result = second['value']
    assert kind == 'value' and result['rank'] == 0 and torch.equal(result['tensor'],
                                                                    torch.arange(3))
    assert first['value'][1]['rank'] == 0
    assert first['called'] == [0] and second['called'] == []  # only rank 0 calls fn
    # rank 0's error, same type and message on both ranks, and nobody hangs
    assert first['error'] == second['error'] == ('error', 'ValueError', 'rank 0 failed')
    assert first['unpicklable'] == ('error', 'Unpicklable', 'no way back')
    assert second['unpicklable'] == ('error', 'RuntimeError',
                                     'Unpicklable on rank 0: no way back')
    assert first['not_sendable'][:2] == second['not_sendable'][:2] == ('error', 'TypeError')
    assert first['not_sendable'] == second['not_sendable']
    # the group is still in step after the failures
    assert first['after'] == second['after'] == ('value', 0)
