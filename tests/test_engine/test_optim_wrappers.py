"""The bf16 optim wrappers --amp selects: autocast, no loss scaling, no host read."""
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch import nn

from selfemb.engine.optim_wrappers import (
    Bf16NonFiniteSkipOptimWrapper,
    Bf16OptimWrapper,
    NonFiniteSkipOptimWrapper,
    bf16_wrapper_type,
)
from selfemb.utils.sync_guard import sync_guard


def sgd(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2,
                           fused=True)


def test_forward_runs_in_bf16_and_the_step_is_the_plain_one():
    torch.manual_seed(0)
    model, twin, x = nn.Linear(4, 3), nn.Linear(4, 3), torch.randn(5, 4)
    twin.load_state_dict(model.state_dict())
    wrapper = Bf16OptimWrapper(sgd(model))
    with wrapper.optim_context(model):
        y = model(x)
    assert y.dtype == torch.bfloat16
    with sync_guard('cpu'):  # no GradScaler: nothing is read on the host
        wrapper.update_params(y.float().pow(2).mean())
    # reference: the same autocast forward, an unscaled backward, a plain SGD step
    with torch.autocast('cpu', dtype=torch.bfloat16):
        reference = twin(x)
    reference.float().pow(2).mean().backward()
    torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2).step()
    torch.testing.assert_close(model.weight, twin.weight, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(model.bias, twin.bias, rtol=1e-6, atol=1e-7)
    assert model.weight.grad is None  # zeroed after the step, as OptimWrapper


def test_accumulation_and_state_dict_follow_optim_wrapper():
    model = nn.Linear(2, 1)
    wrapper = Bf16OptimWrapper(sgd(model), accumulative_counts=2)
    wrapper.initialize_count_status(model, 0, 4)
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        loss = model(torch.ones(1, 2)).float().sum()
    wrapper.update_params(loss)
    assert torch.equal(model.weight, before)  # accumulated, not stepped
    with wrapper.optim_context(model):
        loss = model(torch.ones(1, 2)).float().sum()
    wrapper.update_params(loss)
    assert not torch.equal(model.weight, before)
    state = wrapper.state_dict()
    assert set(state) == {'state', 'param_groups'}
    # a checkpoint of an earlier --amp run (mmengine's AmpOptimWrapper) still loads
    fresh = Bf16OptimWrapper(sgd(model))
    fresh.load_state_dict(dict(state, loss_scaler={'scale': 1.0}))
    assert fresh.optimizer.state_dict()['param_groups'] == state['param_groups']


def test_bf16_skip_wrapper_skips_nonfinite_steps():
    p = nn.Parameter(torch.ones(3))
    wrapper = Bf16NonFiniteSkipOptimWrapper(torch.optim.SGD([p], lr=0.1))
    assert isinstance(wrapper, NonFiniteSkipOptimWrapper)
    wrapper.update_params(p.sum() * float('nan'))
    assert torch.equal(p, torch.ones(3)) and wrapper.num_skipped == 1
    wrapper.update_params(p.sum())
    assert not torch.equal(p, torch.ones(3))


def test_amp_type_mapping_and_registry():
    assert bf16_wrapper_type() == 'Bf16OptimWrapper'
    assert bf16_wrapper_type('NonFiniteSkipOptimWrapper') == 'Bf16NonFiniteSkipOptimWrapper'
    assert bf16_wrapper_type('Bf16OptimWrapper') == 'Bf16OptimWrapper'
    with pytest.raises(ValueError, match="'AmpOptimWrapper' has no bf16 variant; supported"):
        bf16_wrapper_type('AmpOptimWrapper')
    init_default_scope('selfemb')
    for name, cls in (('Bf16OptimWrapper', Bf16OptimWrapper),
                      ('Bf16NonFiniteSkipOptimWrapper', Bf16NonFiniteSkipOptimWrapper)):
        built = build_optim_wrapper(nn.Linear(2, 2), dict(
            type=name, optimizer=dict(type='SGD', lr=0.1, fused=True)))
        assert type(built) is cls and built.optimizer.defaults['fused']
