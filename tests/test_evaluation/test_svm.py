"""VOC07 11-point AP against a hand computation; the SVM benchmark on separable data."""
import numpy as np
import pytest

from selfemb.evaluation import low_shot_svm, train_eval_svm, voc07_ap
from selfemb.evaluation.svm import low_shot_indices, normalize_rows


def test_voc07_ap_hand_case():
    # difficult (0) ignored; ranking + - + -: recall .5 .5 1 1, precision 1 .5 2/3 .5
    # t = 0 .. 0.5 -> max precision 1 (6 points); t = 0.6 .. 1 -> 2/3 (5 points)
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    targets = [1, -1, 1, 0, -1]
    assert voc07_ap(scores, targets) == pytest.approx((6 * 1 + 5 * 2 / 3) / 11)
    assert voc07_ap([0.1, 0.9], [1, -1]) == pytest.approx(0.5)  # ranked second: p = 1/2


def test_voc07_ap_rejects_bad_input():
    with pytest.raises(ValueError, match='no positive'):
        voc07_ap([0.1, 0.2], [-1, 0])
    with pytest.raises(ValueError, match='VOC labels'):
        voc07_ap([0.1, 0.2], [2, 1])


def multilabel(n=36, seed=0):
    """3 classes, class c present iff feature c > 0 (separable), 1 difficult per class."""
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((n, 5)).astype(np.float32)
    targets = np.where(feats[:, :3] > 0, 1, -1)
    targets[0] = 0
    return feats, targets


def test_svm_separable_data_gives_full_map():
    (xtr, ytr), (xte, yte) = multilabel(seed=0), multilabel(seed=1)
    result = train_eval_svm(xtr, ytr, xte, yte, class_names=['a', 'b', 'c'])
    assert set(result['ap']) == {'a', 'b', 'c'}
    assert result['mAP'] > 95.0
    assert all(c in (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0) for c in result['cost'].values())
    with pytest.raises(ValueError, match='test_targets'):
        train_eval_svm(xtr, ytr, xte, yte[:, :2])


def test_low_shot_indices_and_svm():
    feats, targets = multilabel()
    draws = low_shot_indices(targets, k=2, seed=3)
    for c, rows in enumerate(draws):
        assert (targets[rows, c] == 1).sum() == 2
        assert set(np.flatnonzero(targets[:, c] != 1)) <= set(rows)
    again = low_shot_indices(targets, k=2, seed=3)
    assert all((a == b).all() for a, b in zip(draws, again))
    result = low_shot_svm(feats, targets, *multilabel(seed=1), k=2, num_samples=2)
    assert len(result['mAPs']) == 2 and 0 <= result['mean'] <= 100


def test_normalize_rows():
    out = normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert out == pytest.approx(np.array([[0.6, 0.8], [0.0, 0.0]]))
