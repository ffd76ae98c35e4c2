"""VOC07 linear-SVM benchmark (Goyal et al. 2019) on features saved as .npy files.

Reads ``FEATURES_DIR/trainval_<layer>.npy`` and ``FEATURES_DIR/test_<layer>.npy``
((N, C) float32, rows in the order of ``ImageSets/Main/{trainval,test}.txt``, as written
by tools/extract_features.py with configs/benchmarks/svm_voc07/r50_voc07.py and
``--dataloader trainval_dataloader test_dataloader``) and the VOC labels from
``--voc-root`` (VOCdevkit/VOC2007). Prints per-class APs and the mAP; the last stdout
line is a JSON object.

    python tools/benchmarks/svm_voc07/train_svm.py FEATURES_DIR --layer res5 \
        --voc-root data/VOCdevkit/VOC2007 [--costs 1 10 100 ...] \
        [--low-shot 1 2 4 8 16 32 64 96 --num-samples 5]
"""
import argparse
import json
import os.path as osp
import sys

from selfemb.datasets.voc07 import VOC_CLASSES, read_voc07_targets
from selfemb.evaluation.svm import COSTS, low_shot_svm, train_eval_svm


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='VOC07 SVM on frozen features')
    parser.add_argument('features_dir', help='folder with <split>_<layer>.npy')
    parser.add_argument('--layer', default='res5',
                        help='feature name in <split>_<layer>.npy (default res5)')
    parser.add_argument('--voc-root', required=True, help='VOCdevkit/VOC2007')
    parser.add_argument('--costs', type=float, nargs='+', default=list(COSTS),
                        help='SVM costs C (default: 1, 10, 100 and 0.5**n, n = 4..19)')
    parser.add_argument('--folds', type=int, default=3, help='cross-validation folds')
    parser.add_argument('--low-shot', type=int, nargs='+',
                        help='instead: k positives per class for each k given')
    parser.add_argument('--num-samples', type=int, default=5,
                        help='independent low-shot draws per k')
    parser.add_argument('--neg-ratio', type=int,
                        help='low-shot negatives per positive (default 19 = classes - 1)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the JSON result to this file')
    return parser.parse_args()


def load(features_dir: str, split: str, layer: str, voc_root: str):
    import numpy as np
    path = osp.join(features_dir, f'{split}_{layer}.npy')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found (write it with tools/extract_features.py)')
    feats = np.load(path)
    ids, targets = read_voc07_targets(voc_root, split)
    if feats.ndim != 2 or len(feats) != len(ids):
        raise ValueError(f'{path}: shape {feats.shape}, expected ({len(ids)}, C) for the '
                         f'{len(ids)} images of ImageSets/Main/{split}.txt')
    return feats, targets


def main() -> None:
    args = parse_args()
    train_feats, train_targets = load(args.features_dir, 'trainval', args.layer, args.voc_root)
    test_feats, test_targets = load(args.features_dir, 'test', args.layer, args.voc_root)
    print(f'VOC07 SVM on {args.layer}: trainval {train_feats.shape}, test {test_feats.shape},'
          f' costs {args.costs}', flush=True)
    if args.low_shot:
        result = dict(layer=args.layer, low_shot={})
        for k in args.low_shot:
            r = low_shot_svm(train_feats, train_targets, test_feats, test_targets, k,
                             args.num_samples, args.costs, args.seed, args.neg_ratio)
            result['low_shot'][str(k)] = r
            print(f'k={k:3d}: mAP {r["mean"]:.2f} +- {r["std"]:.2f} (min {r["min"]:.2f}, '
                  f'max {r["max"]:.2f}) over {args.num_samples} draws at C={r["cost"]:g}',
                  flush=True)
    else:
        result = train_eval_svm(train_feats, train_targets, test_feats, test_targets,
                                args.costs, args.folds, args.seed, VOC_CLASSES)
        for name in VOC_CLASSES:
            print(f'{name:12s} AP {result["ap"][name]:6.2f}  (C={result["cost"][name]:g})')
        print(f'mAP {result["mAP"]:.2f}')
        result['layer'] = args.layer
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
    sys.stdout.write(json.dumps(result) + '\n')


if __name__ == '__main__':
    main()
