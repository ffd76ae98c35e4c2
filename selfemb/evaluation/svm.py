"""PASCAL VOC2007 linear-SVM classification of frozen features (and its low-shot variant).

Protocol of Goyal et al., "Scaling and Benchmarking Self-Supervised Visual Representation
Learning", ICCV 2019 (also OpenSelfSup's ``benchmarks/svm_voc07``): features of
VOC07 trainval and test, each L2-normalised; for each of the 20 classes a one-vs-rest
``LinearSVC`` (squared hinge, L2, class weight 2 on positives) whose cost C is picked by
3-fold cross-validated average precision on trainval, then refit on all of trainval and
scored on test with the VOC07 11-point AP; the benchmark number is the mean over classes.
VOC labels per image and class are 1 (present), -1 (absent) and 0 ("difficult"):
difficult images count as negatives when training and are ignored when scoring.
Low-shot: only ``k`` positives per class (randomly drawn, several independent draws)
plus all of that class's negatives train each SVM.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np

COSTS = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0)


def voc07_ap(scores: np.ndarray, targets: np.ndarray) -> float:
    """VOC2007 11-point interpolated average precision of one class.

    ``targets`` are VOC labels (1 positive, -1 negative, 0 difficult = ignored). Ranking
    by decreasing score gives precision p(r) at each recall r; AP = mean over
    t in {0, 0.1, ..., 1} of max_{r >= t} p(r) (0 when no recall reaches t).
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
    order = np.argsort(-scores, kind='stable')
    tp = np.cumsum(positive[order])
    fp = np.cumsum(~positive[order])
    recall, precision = tp / num_pos, tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    ap = 0.0
    for t in np.arange(0.0, 1.1, 0.1):
        reached = recall >= t - 1e-12
        ap += (precision[reached].max() if reached.any() else 0.0) / 11.0
    return float(ap)


def normalize_rows(features: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm (rows of zeros stay zero)."""
    features = np.asarray(features, np.float32)
    if features.ndim != 2:
        raise ValueError(f'features must be (N, D), got shape {features.shape}')
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-10)


def _svm(cost: float, seed: int):
    from sklearn.svm import LinearSVC
    return LinearSVC(C=cost, class_weight={1: 2, -1: 1}, penalty='l2', loss='squared_hinge',
                     dual=True, max_iter=2000, tol=1e-4, random_state=seed)


def select_cost(features: np.ndarray, targets: np.ndarray, costs: Sequence[float] = COSTS,
                folds: int = 3, seed: int = 0) -> float:
    """The cost with the best mean ``folds``-fold cross-validated AP for one class
    (VOC labels, difficult as negative); ties go to the smaller cost."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    y = np.where(targets == 1, 1, -1)
    folds = min(folds, int((y == 1).sum()), int((y == -1).sum()))
    if folds < 2:  # too few samples of one side to cross-validate: the middle cost
        return float(costs[len(costs) // 2])
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    means = [cross_val_score(_svm(c, seed), features, y, cv=cv,
                             scoring='average_precision').mean() for c in costs]
    return float(costs[int(np.argmax(means))])


def train_eval_svm(train_feats: np.ndarray, train_targets: np.ndarray, test_feats: np.ndarray,
                   test_targets: np.ndarray, costs: Sequence[float] = COSTS, folds: int = 3,
                   seed: int = 0, class_names: Optional[Sequence[str]] = None
                   ) -> Dict[str, object]:
    """Per-class SVMs on ``train_*`` and their VOC07 APs on ``test_*``.

    ``*_targets`` are (N, C) VOC label matrices. Returns ``dict(mAP=percent,
    ap={class: percent}, cost={class: C})``.
    """
    train_feats, test_feats = normalize_rows(train_feats), normalize_rows(test_feats)
    train_targets, test_targets = np.asarray(train_targets), np.asarray(test_targets)
    if train_targets.ndim != 2 or train_targets.shape[0] != len(train_feats):
        raise ValueError(f'train_targets must be ({len(train_feats)}, C), got '
                         f'{train_targets.shape}')
    if test_targets.shape != (len(test_feats), train_targets.shape[1]):
        raise ValueError(f'test_targets must be ({len(test_feats)}, {train_targets.shape[1]}),'
                         f' got {test_targets.shape}')
    if train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f'feature sizes differ: {train_feats.shape[1]} vs {test_feats.shape[1]}')
    names = list(class_names) if class_names else [str(c) for c in range(train_targets.shape[1])]
    aps, chosen = {}, {}
    for c, name in enumerate(names):
        y = train_targets[:, c]
        if not (y == 1).any():
            raise ValueError(f'class {name!r} has no positive training sample')
        cost = select_cost(train_feats, y, costs, folds, seed)
        svm = _svm(cost, seed).fit(train_feats, np.where(y == 1, 1, -1))
        aps[name] = 100.0 * voc07_ap(svm.decision_function(test_feats), test_targets[:, c])
        chosen[name] = cost
    return {'mAP': float(np.mean(list(aps.values()))), 'ap': aps, 'cost': chosen}


def low_shot_indices(targets: np.ndarray, k: int, seed: int) -> List[np.ndarray]:
    """For every class c, the training rows of one low-shot draw: ``k`` positives of c
    drawn without replacement (all of them when fewer) plus every non-positive row."""
    rng = np.random.default_rng(seed)
    if k < 1:
        raise ValueError(f'k must be >= 1, got {k}')
    out = []
    for c in range(targets.shape[1]):
        pos = np.flatnonzero(targets[:, c] == 1)
        picked = rng.choice(pos, size=min(k, len(pos)), replace=False)
        out.append(np.sort(np.concatenate([picked, np.flatnonzero(targets[:, c] != 1)])))
    return out


def low_shot_svm(train_feats: np.ndarray, train_targets: np.ndarray, test_feats: np.ndarray,
                 test_targets: np.ndarray, k: int, num_samples: int = 5,
                 costs: Sequence[float] = COSTS, folds: int = 3, seed: int = 0
                 ) -> Dict[str, object]:
    """VOC07 mAP with ``k`` positives per class, over ``num_samples`` independent draws
    (seeds ``seed .. seed + num_samples - 1``): ``dict(k, mAPs, mean, std)`` in percent."""
    train_feats, test_feats = normalize_rows(train_feats), normalize_rows(test_feats)
    maps = []
    for s in range(seed, seed + num_samples):
        aps = []
        for c, rows in enumerate(low_shot_indices(np.asarray(train_targets), k, s)):
            y = np.asarray(train_targets)[rows, c]
            cost = select_cost(train_feats[rows], y, costs, folds, s)
            svm = _svm(cost, s).fit(train_feats[rows], np.where(y == 1, 1, -1))
            aps.append(100.0 * voc07_ap(svm.decision_function(test_feats),
                                        np.asarray(test_targets)[:, c]))
        maps.append(float(np.mean(aps)))
    return dict(k=k, mAPs=maps, mean=float(np.mean(maps)), std=float(np.std(maps)))
