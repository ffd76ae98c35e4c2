import pytest
import torch
import torch.nn.functional as F

from selfemb.models.utils import (
    entropy_and_neighbours,
    nearest_neighbours,
    neighbourhood_consistency,
    num_anchors,
    select_anchors,
    softmax_entropy,
)
from selfemb.models.utils import neighbourhood as nb


def brute_force(bank: torch.Tensor, k: int, tau: float):
    """Entropy of softmax(m_i·Mᵀ/τ) (self included) and top-k other rows, in float64."""
    b = bank.double()
    p = torch.softmax(b @ b.t() / tau, dim=1)
    entropy = -(p * p.log()).sum(1)
    sims = b @ b.t()
    sims.fill_diagonal_(float('-inf'))
    return entropy, sims.topk(k, dim=1).indices


@pytest.mark.parametrize('tau', [0.1, 0.05, 1.0])
def test_matches_brute_force_for_every_chunk_size(tau):
    bank = F.normalize(torch.randn(97, 16, generator=torch.Generator().manual_seed(0)), dim=1)
    ref_entropy, ref_neighbours = brute_force(bank, 3, tau)
    for chunk, fused in ((1, False), (7, True), (32, False), (97, True), (500, False),
                         (None, True), (None, False)):
        entropy, neighbours = entropy_and_neighbours(bank, k=3, temperature=tau,
                                                     chunk_size=chunk, fused=fused)
        assert entropy.dtype == torch.float32 and neighbours.dtype == torch.long
        torch.testing.assert_close(entropy.double(), ref_entropy, rtol=1e-5, atol=1e-5)
        assert torch.equal(neighbours, ref_neighbours), chunk


def test_self_is_excluded_even_with_duplicates():
    base = F.normalize(torch.randn(5, 8, generator=torch.Generator().manual_seed(1)), dim=1)
    bank = torch.cat([base, base])  # row i and row i + 5 are identical
    _, neighbours = entropy_and_neighbours(bank, k=1, temperature=0.1, chunk_size=3)
    assert neighbours[:, 0].tolist() == [5, 6, 7, 8, 9, 0, 1, 2, 3, 4]


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16, torch.float16])
def test_fused_entropy_is_used_and_matches_brute_force(dtype):
    bank = F.normalize(torch.randn(300, 64, generator=torch.Generator().manual_seed(3)), dim=1)
    ref, _ = brute_force(bank, 1, 0.1)
    entropy, method = softmax_entropy(bank, 0.1, dtype=dtype)
    assert method == 'fused'
    tol = {torch.float32: 1e-4, torch.bfloat16: 0.05, torch.float16: 0.01}[dtype]
    torch.testing.assert_close(entropy.double(), ref, rtol=0, atol=tol)


def test_fused_entropy_falls_back_when_the_check_fails(monkeypatch):
    bank = F.normalize(torch.randn(80, 16, generator=torch.Generator().manual_seed(4)), dim=1)
    ref, _ = brute_force(bank, 1, 0.1)
    broken = lambda x, scale: (x.new_zeros(x.shape), x.new_zeros(x.size(0)))  # noqa: E731
    monkeypatch.setattr(nb, '_attention', broken)
    with pytest.warns(UserWarning, match='differs from the blocked'):
        entropy, method = softmax_entropy(bank, 0.1)
    assert method == 'blocked'
    torch.testing.assert_close(entropy.double(), ref, rtol=1e-5, atol=1e-5)

    def missing(x, scale):
        raise RuntimeError('no kernel image is available')

    monkeypatch.setattr(nb, '_attention', missing)
    with pytest.warns(UserWarning, match='no fused attention kernel'):
        assert softmax_entropy(bank, 0.1)[1] == 'blocked'

    def other_signature(x, scale):  # a private op of another torch version
        raise TypeError('_scaled_dot_product_flash_attention() got an unexpected keyword')

    monkeypatch.setattr(nb, '_attention', other_signature)
    with pytest.warns(UserWarning, match='no fused attention kernel'):
        assert softmax_entropy(bank, 0.1)[1] == 'blocked'


@pytest.mark.parametrize('dtype', [torch.float32, torch.float16])
def test_nearest_neighbours_exclude_self_in_every_precision(dtype):
    bank = F.normalize(torch.randn(50, 8, generator=torch.Generator().manual_seed(5)), dim=1)
    _, ref = brute_force(bank, 2, 0.1)
    got = nearest_neighbours(bank, 2, chunk_size=9, dtype=dtype)
    assert (got != torch.arange(50)[:, None]).all()
    if dtype == torch.float32:
        assert torch.equal(got, ref)


def test_bf16_matmul_is_close():
    bank = F.normalize(torch.randn(64, 32, generator=torch.Generator().manual_seed(2)), dim=1)
    e32, _ = entropy_and_neighbours(bank, 1, 0.1)
    e16, n16 = entropy_and_neighbours(bank, 1, 0.1, dtype=torch.bfloat16)
    torch.testing.assert_close(e16, e32, rtol=0.05, atol=0.05)
    assert (n16[:, 0] != torch.arange(64)).all()


def test_bad_arguments_name_the_values():
    bank = F.normalize(torch.randn(4, 3), dim=1)
    with pytest.raises(ValueError, match='k=4'):
        entropy_and_neighbours(bank, k=4)
    with pytest.raises(ValueError, match='temperature'):
        entropy_and_neighbours(bank, temperature=0.0)
    with pytest.raises(ValueError, match='chunk_size'):
        entropy_and_neighbours(bank, chunk_size=0)
    with pytest.raises(ValueError, match='L2-normalised'):
        entropy_and_neighbours(torch.eye(3) * torch.tensor([[1e3], [1e-3], [1.0]]),
                               temperature=1e-3)


def test_anchor_counts_per_round():
    assert [num_anchors(64, r, 0.25) for r in range(6)] == [0, 16, 32, 48, 64, 64]
    assert [num_anchors(10, r, 0.1) for r in range(1, 4)] == [1, 2, 3]  # no float drift
    assert num_anchors(7, 1, 0.25) == 1  # floored


def test_select_lowest_entropy_with_stable_ties():
    entropy = torch.tensor([3.0, 1.0, 2.0, 1.0, 0.5])
    assert select_anchors(entropy, 3).tolist() == [False, True, False, True, True]
    assert select_anchors(entropy, 2).tolist() == [False, True, False, False, True]
    assert not select_anchors(entropy, 0).any()
    with pytest.raises(ValueError, match='6 anchors out of 5'):
        select_anchors(entropy, 6)


def test_consistency_uses_known_labels_of_anchor_pairs():
    anchor = torch.tensor([True, True, True, False])
    neighbours = torch.tensor([[1], [2], [3], [0]])
    labels = [0, 0, 1, 1]
    assert neighbourhood_consistency(anchor, neighbours, labels) == pytest.approx(2 / 3)
    assert neighbourhood_consistency(anchor, neighbours, [0, 0, -1, 1]) == 1.0
    assert neighbourhood_consistency(anchor, neighbours, [-1] * 4) is None
    assert neighbourhood_consistency(torch.zeros(4, dtype=torch.bool), neighbours, labels) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason='the CUDA attention kernels')
@pytest.mark.parametrize('dtype', [torch.float32, torch.float16, torch.bfloat16])
def test_fused_entropy_on_cuda_uses_the_kernel_and_matches(dtype):
    bank = F.normalize(torch.randn(3000, 128, generator=torch.Generator().manual_seed(6)), dim=1)
    ref, ref_neighbours = brute_force(bank, 1, 0.1)
    entropy, method = softmax_entropy(bank.cuda(), 0.1, dtype=dtype)
    assert method == 'fused'
    tol = {torch.float32: 1e-3, torch.float16: 0.01, torch.bfloat16: 0.05}[dtype]
    torch.testing.assert_close(entropy.cpu().double(), ref, rtol=0, atol=tol)
    if dtype == torch.float32:
        assert torch.equal(nearest_neighbours(bank.cuda(), 1).cpu(), ref_neighbours)
