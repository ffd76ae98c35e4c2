"""Unseen-category retrieval (ISIF Sec. 4.2): Recall@K and k-means NMI of test features.

Features come from the config's ``recall_dataloader`` (the unseen classes' test images)
under a checkpoint, or from .npy files; the last stdout line is a JSON object.

    python tools/benchmarks/recall_at_k.py CONFIG CHECKPOINT [--feature backbone]
    python tools/benchmarks/recall_at_k.py --features test_embedding.npy \
        --labels test_labels.npy [--ks 1 10 100]
"""
import argparse
import json
import sys

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from selfemb.apis import extract_from_config, load_npy_pair
from selfemb.engine.config_check import check_cfg_options
from selfemb.evaluation import nmi_kmeans, recall_at_k


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Recall@K and NMI on unseen classes')
    parser.add_argument('config', nargs='?', help='config with a recall_dataloader')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint of that config')
    parser.add_argument('--features', help='(N, C) .npy features instead of CONFIG + CKPT')
    parser.add_argument('--labels', help='(N,) .npy labels of --features')
    parser.add_argument('--ks', type=int, nargs='+', help='K values (default: the '
                        "config's recall_cfg.ks, else 1 2 4 8)")
    parser.add_argument('--feature', choices=['embedding', 'backbone'],
                        help='model.embed output or pooled backbone (default: recall_cfg)')
    parser.add_argument('--nmi-k', type=int, help='k-means clusters (default: #classes)')
    parser.add_argument('--nredo', type=int, default=1, help='k-means restarts')
    parser.add_argument('--seed', type=int, default=0, help='k-means seed')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    recall_cfg = {}
    if args.features:
        if args.labels is None:
            raise SystemExit('--features needs --labels')
        feats, labels = load_npy_pair(args.features, args.labels)
        source = args.features
    elif args.config and args.checkpoint:
        cfg = Config.fromfile(args.config)
        check_cfg_options(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
        init_default_scope(cfg.get('default_scope', 'selfemb'))
        recall_cfg = cfg.get('recall_cfg', {})
        feature = args.feature or recall_cfg.get('feature', 'embedding')
        feats, labels = extract_from_config(cfg, args.checkpoint, 'recall_dataloader', feature)
        source = f'{args.checkpoint} ({args.config}, {feature})'
    else:
        raise SystemExit('give CONFIG CHECKPOINT, or --features and --labels')
    ks = args.ks or list(recall_cfg.get('ks', (1, 2, 4, 8)))
    metrics = recall_at_k(feats, labels, ks)
    metrics['NMI'] = 100.0 * nmi_kmeans(feats, labels, k=args.nmi_k, seed=args.seed,
                                        nredo=args.nredo)
    print(f'{source}: {len(feats)} images of {len(set(labels.tolist()))} classes, '
          f'{feats.shape[1]}-d features')
    print('  '.join(f'{k}: {v:.2f}' for k, v in metrics.items()))
    sys.stdout.write(json.dumps(metrics) + '\n')


if __name__ == '__main__':
    main()
