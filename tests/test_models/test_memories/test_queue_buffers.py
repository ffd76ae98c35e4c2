"""SimpleMemory's queued update in registered buffers: fixed addresses, the same numbers
as flushing every batch at once, checkpoints with the bank only."""
import torch
import torch.nn.functional as F

from selfemb.models.memories import NeighbourhoodMemory, SimpleMemory

QUEUE = ('pending_indices', 'pending_features', 'pending_first', 'pending')


def memory(n: int = 10, momentum: float = 0.5, cls=SimpleMemory) -> SimpleMemory:
    mem = cls(feat_dim=4, momentum=momentum)
    mem.setup(n, seed=0)
    return mem


def feats(n: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(n, 4, generator=torch.Generator().manual_seed(seed)), dim=1)


def test_queue_keeps_its_addresses_and_pads_a_smaller_batch_with_its_first_row():
    mem = memory()
    mem.update(torch.tensor([1, 2, 3, 4]), feats(4, 0))
    addresses = [getattr(mem, name).data_ptr() for name in QUEUE]
    mem.flush()
    ref = memory()
    ref.bank.copy_(mem.bank)
    mem.update(torch.tensor([7, 5]), feats(2, 1))  # 2 rows in a queue of 4
    assert [getattr(mem, name).data_ptr() for name in QUEUE] == addresses
    assert mem.pending_indices.tolist() == [7, 5, 7, 7]
    assert mem.pending_first.tolist() == [True, True, False, False]
    ref.update(torch.tensor([7, 5]), feats(2, 1))
    mem.flush(), ref.flush()
    assert torch.equal(mem.bank, ref.bank)
    assert ref.pending_indices.numel() == 2  # sized by its largest batch


def test_flush_with_nothing_queued_writes_nothing_and_updates_queue_in_order():
    mem = memory()
    before = mem.bank.clone()
    mem.flush()  # nothing ever queued
    mem.update(torch.tensor([0, 3]), feats(2, 2))
    mem.flush()
    after = mem.bank.clone()
    mem.flush()  # queue empty: the same kernels, no change
    assert torch.equal(mem.bank, after) and not torch.equal(after, before)
    assert not bool(mem.pending)
    # two updates without a flush between them: the first is written before the second
    a, b = memory(), memory()
    a.update(torch.tensor([0, 3]), feats(2, 3))
    a.update(torch.tensor([3, 6]), feats(2, 4))
    a.flush()
    b.update(torch.tensor([0, 3]), feats(2, 3))
    b.flush()
    b.update(torch.tensor([3, 6]), feats(2, 4))
    b.flush()
    assert torch.equal(a.bank, b.bank)


def test_update_after_a_loss_on_the_bank_leaves_its_backward_alone():
    mem = memory()
    x = feats(3, 5).requires_grad_()
    bank = mem.current_bank()
    loss = (x @ bank.t()).logsumexp(1).mean()  # autograd saves the bank
    mem.update(torch.tensor([0, 1, 2]), x.detach())
    loss.backward()  # the bank was not modified: no in-place error
    expected = torch.autograd.grad((x @ bank.t()).logsumexp(1).mean(), x)[0]
    assert torch.equal(x.grad, expected)


def test_checkpoint_keys_are_the_bank_only_and_loading_keeps_the_queue_empty():
    mem = memory(cls=NeighbourhoodMemory)
    mem.update(torch.tensor([1, 2]), feats(2, 6))
    state = mem.state_dict()  # flushes first
    assert set(state) == {'bank', 'neighbours', 'anchor', 'round_idx'}
    fresh = memory(cls=NeighbourhoodMemory)
    fresh.load_state_dict(state)
    fresh.flush()
    assert torch.equal(fresh.bank, mem.bank)
