"""PASCAL VOC2007 linear-SVM classification of frozen features (and its low-shot variant).

Protocol of Goyal et al., "Scaling and Benchmarking Self-Supervised Visual Representation
Learning", ICCV 2019, as implemented by OpenSelfSup's ``benchmarks/svm_tools``: features
of VOC07 trainval and test, each row divided by (its L2 norm + 1e-5); for each of the 20
classes a one-vs-rest ``LinearSVC`` (squared hinge, L2, class weight 2 on positives)
whose cost C is picked by 3-fold (unshuffled, stratified) cross-validated average
precision on trainval, then refit on all of trainval and scored on test with the area
under the precision envelope (VOC2010-style AP, :func:`voc_ap`); the benchmark number is
the mean over classes. VOC labels per image and class are 1 (present), -1 (absent) and 0
("difficult"): difficult images count as negatives when training and are ignored when
scoring. Low-shot: see :func:`low_shot_svm`.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np

# OpenSelfSup eval_svm_full.sh / svm_helper.parse_cost_list: "1.0,10.0,100.0" + 0.5**n,
# n = 4..19, in this order (ties in the cross-validated AP go to the earlier one).
COSTS = (1.0, 10.0, 100.0) + tuple(0.5**n for n in range(4, 20))


def voc_ap(scores: np.ndarray, targets: np.ndarray) -> float:
    """Average precision of one class: area under the precision envelope.

    ``targets`` are VOC labels (1 positive, -1 negative, 0 difficult = ignored). Ranking
    by decreasing score gives recall r_i and precision p_i at each rank i; with
    r_0 = 0 and the envelope q_i = max_{j >= i} p_j, AP = sum_i (r_i - r_{i-1}) q_i
    (the VOC2010+ definition, OpenSelfSup ``svm_helper.calculate_ap``).
    """
    scores, targets = np.asarray(scores, np.float64).reshape(-1), np.asarray(targets).reshape(-1)
    if scores.shape != targets.shape:
        raise ValueError(f'scores {scores.shape} and targets {targets.shape} differ in shape')
    if not np.isin(targets, (-1, 0, 1)).all():
        raise ValueError('targets must be VOC labels 1, -1 or 0 (difficult)')
    keep = targets != 0
    scores, positive = scores[keep], targets[keep] == 1
    num_pos = int(positive.sum())
    if num_pos == 0:
        raise ValueError('no positive (label 1) sample: AP is undefined')
    order = np.argsort(scores, kind='stable')[::-1]  # ties: later row first, as the reference
    tp = np.cumsum(positive[order])
    recall = np.concatenate([[0.0], tp / num_pos])
    precision = tp / np.arange(1, len(tp) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(recall) * envelope))


def normalize_rows(features: np.ndarray) -> np.ndarray:
    """Each row divided by (its L2 norm + 1e-5), as OpenSelfSup's ``normalize_features``."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2:
        raise ValueError(f'features must be (N, D), got shape {features.shape}')
    return features / (np.linalg.norm(features, axis=1, keepdims=True) + 1e-5)


def _svm(cost: float, seed: int):
    from sklearn.svm import LinearSVC
    return LinearSVC(C=cost, class_weight={1: 2, -1: 1}, penalty='l2', loss='squared_hinge',
                     dual=True, max_iter=2000, tol=1e-4, random_state=seed)


def cv_average_precision(features: np.ndarray, targets: np.ndarray,
                         costs: Sequence[float] = COSTS, folds: int = 3,
                         seed: int = 0) -> np.ndarray:
    """Mean ``folds``-fold cross-validated AP (sklearn ``average_precision``) per cost for
    one class (VOC labels, difficult as negative). The folds are sklearn's unshuffled
    ``StratifiedKFold`` (``cross_val_score(cv=folds)``, as OpenSelfSup's
    ``train_svm_kfold.py``); fewer folds when a side has fewer than ``folds`` samples,
    and all-NaN when it has fewer than 2."""
    from sklearn.model_selection import cross_val_score
    y = np.where(targets == 1, 1, -1)
    folds = min(folds, int((y == 1).sum()), int((y == -1).sum()))
    if folds < 2:
        return np.full(len(costs), np.nan)
    return np.array([cross_val_score(_svm(c, seed), features, y, cv=folds,
                                     scoring='average_precision').mean() for c in costs])


def select_cost(features: np.ndarray, targets: np.ndarray, costs: Sequence[float] = COSTS,
                folds: int = 3, seed: int = 0) -> float:
    """The first cost (in ``costs`` order) with the best cross-validated AP; ``costs[0]``
    when there are too few samples to cross-validate."""
    means = cv_average_precision(features, targets, costs, folds, seed)
    return float(costs[0] if np.isnan(means).all() else costs[int(np.nanargmax(means))])


def _check(train_feats, train_targets, test_feats, test_targets) -> None:
    if train_targets.ndim != 2 or train_targets.shape[0] != len(train_feats):
        raise ValueError(f'train_targets must be ({len(train_feats)}, C), got '
                         f'{train_targets.shape}')
    if test_targets.shape != (len(test_feats), train_targets.shape[1]):
        raise ValueError(f'test_targets must be ({len(test_feats)}, {train_targets.shape[1]}),'
                         f' got {test_targets.shape}')
    if train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f'feature sizes differ: {train_feats.shape[1]} vs {test_feats.shape[1]}')


def train_eval_svm(train_feats: np.ndarray, train_targets: np.ndarray, test_feats: np.ndarray,
                   test_targets: np.ndarray, costs: Sequence[float] = COSTS, folds: int = 3,
                   seed: int = 0, class_names: Optional[Sequence[str]] = None
                   ) -> Dict[str, object]:
    """Per-class SVMs on ``train_*`` and their APs on ``test_*``.

    ``*_targets`` are (N, C) VOC label matrices. Returns ``dict(mAP=percent,
    ap={class: percent}, cost={class: C})``.
    """
    train_feats, test_feats = normalize_rows(train_feats), normalize_rows(test_feats)
    train_targets, test_targets = np.asarray(train_targets), np.asarray(test_targets)
    _check(train_feats, train_targets, test_feats, test_targets)
    names = list(class_names) if class_names else [str(c) for c in range(train_targets.shape[1])]
    aps, chosen = {}, {}
    for c, name in enumerate(names):
        y = train_targets[:, c]
        if not (y == 1).any():
            raise ValueError(f'class {name!r} has no positive training sample')
        cost = select_cost(train_feats, y, costs, folds, seed)
        svm = _svm(cost, seed).fit(train_feats, np.where(y == 1, 1, -1))
        aps[name] = 100.0 * voc_ap(svm.decision_function(test_feats), test_targets[:, c])
        chosen[name] = cost
    return {'mAP': float(np.mean(list(aps.values()))), 'ap': aps, 'cost': chosen}


def low_shot_indices(targets: np.ndarray, k: int, seed,
                     neg_ratio: Optional[int] = None) -> List[np.ndarray]:
    """One low-shot draw (OpenSelfSup ``create_voc_low_shot_challenge_samples.py``): for
    every class c, ``k`` rows where c is present (label 1) and ``neg_ratio * k`` rows
    where c is absent (label -1; default ratio C - 1 = 19), each without replacement;
    difficult rows (0) and all other rows are left out. Sorted row indices per class."""
    targets = np.asarray(targets)
    neg_ratio = targets.shape[1] - 1 if neg_ratio is None else neg_ratio
    if k < 1 or neg_ratio < 1:
        raise ValueError(f'k and neg_ratio must be >= 1, got k={k}, neg_ratio={neg_ratio}')
    rng = np.random.default_rng(seed)
    out = []
    for c in range(targets.shape[1]):
        rows = []
        for label, num in ((1, k), (-1, neg_ratio * k)):
            pool = np.flatnonzero(targets[:, c] == label)
            if len(pool) < num:
                raise ValueError(f'class {c}: {num} rows with label {label} needed for k={k}, '
                                 f'only {len(pool)} exist')
            rows.append(rng.choice(pool, size=num, replace=False))
        out.append(np.sort(np.concatenate(rows)))
    return out


def low_shot_svm(train_feats: np.ndarray, train_targets: np.ndarray, test_feats: np.ndarray,
                 test_targets: np.ndarray, k: int, num_samples: int = 5,
                 costs: Sequence[float] = COSTS, seed: int = 0,
                 neg_ratio: Optional[int] = None) -> Dict[str, object]:
    """Low-shot VOC07 SVM (OpenSelfSup ``train/test_svm_low_shot.py`` and
    ``aggregate_low_shot_svm_stats.py``).

    For each of ``num_samples`` independent draws d (:func:`low_shot_indices` with the
    generator seeded by ``(seed, k, d)``) and each cost, every class's SVM is trained on
    its drawn rows (no cross-validation) and scored on test; the mAP over classes is
    averaged over the draws and ONE cost is chosen per k: the first with the best mean.
    Returns percent ``dict(k, cost, mAPs (per draw at that cost), mean, std, min, max,
    mean_per_cost)``.
    """
    train_feats, test_feats = normalize_rows(train_feats), normalize_rows(test_feats)
    train_targets, test_targets = np.asarray(train_targets), np.asarray(test_targets)
    _check(train_feats, train_targets, test_feats, test_targets)
    if num_samples < 1:
        raise ValueError(f'num_samples must be >= 1, got {num_samples}')
    maps = np.zeros((num_samples, len(costs)))
    for d in range(num_samples):
        draw = low_shot_indices(train_targets, k, np.random.SeedSequence((seed, k, d)),
                                neg_ratio)
        for j, cost in enumerate(costs):
            aps = []
            for c, rows in enumerate(draw):
                y = train_targets[rows, c]
                svm = _svm(cost, seed).fit(train_feats[rows], y)
                aps.append(voc_ap(svm.decision_function(test_feats), test_targets[:, c]))
            maps[d, j] = 100.0 * np.mean(aps)
    mean = maps.mean(axis=0)
    best = int(np.argmax(mean))
    at = maps[:, best]
    return dict(k=k, cost=float(costs[best]), mAPs=at.tolist(), mean=float(mean[best]),
                std=float(at.std()), min=float(at.min()), max=float(at.max()),
                mean_per_cost=mean.tolist())
