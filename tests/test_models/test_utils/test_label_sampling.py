import math

import pytest
import torch
import torch.nn.functional as F

from selfemb.models.utils.label_sampling import (
    STRATEGIES,
    pool_size,
    sample_negatives,
    sample_positives,
)

N, D, B, K = 200, 8, 6, 5


@pytest.fixture
def data():
    gen = torch.Generator().manual_seed(0)
    bank = F.normalize(torch.randn(N, D, generator=gen), dim=1)
    labels = torch.randint(0, 7, (N, ), generator=gen)
    labels[13] = 7  # a singleton cluster
    anchors = torch.tensor([0, 13, 50, 99, 150, 199])
    queries = F.normalize(bank[anchors] + 0.1 * torch.randn(B, D, generator=gen), dim=1)
    return bank, labels, anchors, queries


def test_positive_has_the_label_and_is_another_entry(data):
    _, labels, anchors, _ = data
    torch.manual_seed(0)
    for _ in range(20):
        pos = sample_positives(labels, anchors)
        assert torch.equal(labels[pos], labels[anchors])
        alone = anchors == 13
        assert (pos[~alone] != anchors[~alone]).all() and (pos[alone] == 13).all()
    # every other member of a cluster can be drawn
    seen = {int(sample_positives(labels, anchors[:1])) for _ in range(400)}
    assert seen == set(torch.nonzero(labels == labels[0]).squeeze(1).tolist()) - {0}


def ranked_valid(query, bank, labels, label, farthest=False):
    """Naive reference: the other-label rows sorted by similarity (float64)."""
    sim = (bank.double() @ query.double()).tolist()
    rows = [j for j in range(len(sim)) if labels[j] != label]
    return sorted(rows, key=lambda j: sim[j], reverse=not farthest)


@pytest.mark.parametrize('strategy', STRATEGIES)
def test_negatives_have_other_labels_and_respect_the_strategy(data, strategy):
    bank, labels, anchors, queries = data
    torch.manual_seed(1)
    neg = sample_negatives(queries, bank, labels, labels[anchors], K, strategy, 0.1,
                           block_size=3 * N)  # 3 anchors per block
    assert neg.shape == (B, K) and neg.dtype == torch.long
    assert ((neg >= 0) & (neg < N)).all()
    assert (labels[neg] != labels[anchors].unsqueeze(1)).all()
    for b in range(B):
        ranked = ranked_valid(queries[b], bank, labels, labels[anchors[b]],
                              farthest=strategy == 'semieasy')
        row = neg[b].tolist()
        if strategy == 'hard':
            assert row == ranked[:K]
        elif strategy in ('semihard', 'semieasy'):
            pool = pool_size(len(ranked), K, 0.1)
            assert pool == max(K, math.ceil(0.1 * len(ranked)))
            assert len(set(row)) == K and set(row) <= set(ranked[:pool])


def test_semihard_draws_spread_over_the_whole_pool(data):
    bank, labels, anchors, queries = data
    torch.manual_seed(2)
    seen = set()
    for _ in range(60):
        seen |= set(sample_negatives(queries[:1], bank, labels, labels[anchors[:1]], K).tolist()[0])
    ranked = ranked_valid(queries[0], bank, labels, labels[anchors[0]])
    assert seen == set(ranked[:pool_size(len(ranked), K)])  # 10 % pool > K: not just top-K


def test_random_negatives_are_uniform_over_other_labels(data):
    bank, labels, anchors, queries = data
    torch.manual_seed(3)
    draws = torch.cat([sample_negatives(queries, bank, labels, labels[anchors], 150, 'random')
                       for _ in range(30)], dim=1)
    for b in range(B):
        valid = (labels != labels[anchors[b]]).sum()
        assert draws[b].unique().numel() == valid  # every valid row is reachable
        assert (labels[draws[b]] != labels[anchors[b]]).all()


def test_rows_with_fewer_candidates_than_k_repeat_valid_ones():
    labels = torch.tensor([0] * 8 + [1, 2])
    bank = F.normalize(torch.randn(10, 4), dim=1)
    for strategy in STRATEGIES:
        neg = sample_negatives(bank[:1], bank, labels, labels[:1], 5, strategy)
        assert set(neg[0].tolist()) == {8, 9}, strategy


def test_bad_arguments_are_named():
    bank, labels = F.normalize(torch.randn(10, 4), dim=1), torch.zeros(10, dtype=torch.long)
    with pytest.raises(ValueError, match='strategy'):
        sample_negatives(bank[:1], bank, labels, labels[:1], 3, 'easy')
    with pytest.raises(ValueError, match='num_negatives=10'):
        sample_negatives(bank[:1], bank, labels, labels[:1], 10)
    with pytest.raises(RuntimeError, match='same pseudo-label'):
        sample_negatives(bank[:1], bank, labels, labels[:1], 3)
