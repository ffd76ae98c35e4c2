"""VOC AP (area under the precision envelope) against a hand computation; the SVM
benchmark's costs, folds and low-shot protocol (OpenSelfSup benchmarks/svm_tools)."""
import numpy as np
import pytest

from selfemb.evaluation import low_shot_svm, train_eval_svm, voc_ap
from selfemb.evaluation.svm import (
    COSTS,
    cv_average_precision,
    low_shot_indices,
    normalize_rows,
    select_cost,
)


def test_voc_ap_hand_case():
    # difficult (0) ignored; ranking + - + -: recall .5 .5 1 1, precision 1 .5 2/3 .5;
    # envelope 1 2/3 2/3 .5; recall steps .5 (rank 1) and .5 (rank 3):
    # AP = .5 * 1 + .5 * 2/3 = 5/6 (the 11-point AP would be (6 + 5 * 2/3) / 11)
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    targets = [1, -1, 1, 0, -1]
    assert voc_ap(scores, targets) == pytest.approx(5 / 6)
    assert voc_ap([0.1, 0.9], [1, -1]) == pytest.approx(0.5)  # ranked second: p = 1/2
    # + - - + +: precisions 1, 1/2, 3/5 at the positives -> .. envelope at rank 4 is 3/5
    assert voc_ap([5, 4, 3, 2, 1], [1, -1, -1, 1, 1]) == pytest.approx((1 + 0.6 + 0.6) / 3)


def test_voc_ap_rejects_bad_input():
    with pytest.raises(ValueError, match='no positive'):
        voc_ap([0.1, 0.2], [-1, 0])
    with pytest.raises(ValueError, match='VOC labels'):
        voc_ap([0.1, 0.2], [2, 1])


def test_costs_are_the_reference_list():
    assert COSTS[:3] == (1.0, 10.0, 100.0)
    assert COSTS[3:] == tuple(2.0**-n for n in range(4, 20)) and len(COSTS) == 19


def multilabel(n=36, seed=0, noise=0.0):
    """3 classes, class c present iff feature c > 0 (separable without noise), 1 difficult
    per class."""
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((n, 5)).astype(np.float32)
    targets = np.where(feats[:, :3] > 0, 1, -1)
    targets[0] = 0
    return feats + noise * rng.standard_normal(feats.shape).astype(np.float32), targets


def test_cv_uses_unshuffled_stratified_folds():
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import LinearSVC
    feats, targets = multilabel(n=60, noise=1.5)
    x, y = normalize_rows(feats), np.where(targets[:, 0] == 1, 1, -1)
    costs = (1.0, 0.01)
    naive = []
    for c in costs:
        aps = []
        for tr, te in StratifiedKFold(3).split(x, y):  # no shuffling
            svm = LinearSVC(C=c, class_weight={1: 2, -1: 1}, dual=True, max_iter=2000,
                            random_state=0).fit(x[tr], y[tr])
            aps.append(average_precision_score(y[te], svm.decision_function(x[te])))
        naive.append(np.mean(aps))
    assert cv_average_precision(x, targets[:, 0], costs) == pytest.approx(naive)
    # ties go to the first cost of the list: identical costs tie
    assert select_cost(x, targets[:, 0], (10.0, 10.0 + 1e-12)) == 10.0


def test_svm_separable_data_gives_full_map():
    (xtr, ytr), (xte, yte) = multilabel(seed=0), multilabel(seed=1)
    result = train_eval_svm(xtr, ytr, xte, yte, class_names=['a', 'b', 'c'])
    assert set(result['ap']) == {'a', 'b', 'c'}
    assert result['mAP'] > 95.0
    assert all(c in COSTS for c in result['cost'].values())
    with pytest.raises(ValueError, match='test_targets'):
        train_eval_svm(xtr, ytr, xte, yte[:, :2])


def test_low_shot_indices_sampling_constraints():
    rng = np.random.default_rng(0)
    targets = rng.choice([1, -1, -1, -1, 0], size=(400, 4))
    draws = low_shot_indices(targets, k=3, seed=3)
    for c, rows in enumerate(draws):
        labels = targets[rows, c]
        assert (labels == 1).sum() == 3 and (labels == -1).sum() == 9  # (C - 1) * k
        assert len(set(rows.tolist())) == len(rows)  # no repeats, no difficult rows
    again = low_shot_indices(targets, k=3, seed=3)
    assert all((a == b).all() for a, b in zip(draws, again))
    other = low_shot_indices(targets, k=3, seed=4)
    assert any(not np.array_equal(a, b) for a, b in zip(draws, other))
    assert all((targets[r, c] == -1).sum() == 6
               for c, r in enumerate(low_shot_indices(targets, 3, 0, neg_ratio=2)))
    few = np.array([[1, 1], [1, -1], [-1, 1], [0, -1]])  # class 0: one absent row
    with pytest.raises(ValueError, match='class 0: 2 rows with label -1 needed for k=2'):
        low_shot_indices(few, k=2, seed=0)


def test_low_shot_svm_picks_one_cost_by_mean_over_draws(monkeypatch):
    (xtr, ytr), (xte, yte) = multilabel(n=200, seed=0, noise=1.0), multilabel(seed=1)
    costs = (1e-6, 1.0, 100.0)
    result = low_shot_svm(xtr, ytr, xte, yte, k=4, num_samples=3, costs=costs, neg_ratio=2)
    again = low_shot_svm(xtr, ytr, xte, yte, k=4, num_samples=3, costs=costs, neg_ratio=2)
    assert result == again  # deterministic given the seed
    # naive reference: per draw and cost, mAP over classes of SVMs on the drawn rows
    from selfemb.evaluation import svm as svm_mod
    x, xt = normalize_rows(xtr), normalize_rows(xte)
    table = np.zeros((3, len(costs)))
    for d in range(3):
        draw = low_shot_indices(ytr, 4, np.random.SeedSequence((0, 4, d)), neg_ratio=2)
        for j, c in enumerate(costs):
            table[d, j] = 100 * np.mean([voc_ap(svm_mod._svm(c, 0).fit(
                x[r], ytr[r, k]).decision_function(xt), yte[:, k]) for k, r in enumerate(draw)])
    best = int(np.argmax(table.mean(axis=0)))
    assert result['cost'] == costs[best]
    assert result['mAPs'] == pytest.approx(table[:, best].tolist())
    assert result['mean_per_cost'] == pytest.approx(table.mean(axis=0).tolist())
    assert result['mean'] == pytest.approx(table[:, best].mean())
    assert result['std'] == pytest.approx(table[:, best].std())


def test_normalize_rows():
    out = normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert out == pytest.approx(np.array([[3 / (5 + 1e-5), 4 / (5 + 1e-5)], [0.0, 0.0]]))
