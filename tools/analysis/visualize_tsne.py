"""t-SNE of learned features, one dot per image, coloured by class when labels exist.

From .npy files (``<split>_<layer>.npy`` of tools/extract_features.py) or from a config
and checkpoint (features of one of the config's dataloaders, default the kNN query set):

    python tools/analysis/visualize_tsne.py --features test_feat5.npy \
        [--labels test_labels.npy] --out tsne.png
    python tools/analysis/visualize_tsne.py CONFIG CHECKPOINT \
        [--loader knn_val_dataloader] [--feature embedding] --out tsne.png

Large sets are subsampled (``--max-samples``, seeded); the 2-d points are saved next to
the PNG as ``<out>.npy``.
"""
import argparse
import os.path as osp

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from selfemb.apis import extract_from_config, load_npy_pair
from selfemb.engine.config_check import check_cfg_options


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='t-SNE plot of features')
    parser.add_argument('config', nargs='?')
    parser.add_argument('checkpoint', nargs='?')
    parser.add_argument('--features', help='(N, C) .npy features instead of CONFIG + CKPT')
    parser.add_argument('--labels', help='(N,) .npy labels of --features (optional)')
    parser.add_argument('--loader', default='knn_val_dataloader',
                        help='top-level dataloader key of the config')
    parser.add_argument('--feature', choices=['embedding', 'backbone'], default='embedding')
    parser.add_argument('--max-samples', type=int, default=5000)
    parser.add_argument('--perplexity', type=float, default=30.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default='tsne.png')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args()


def tsne_2d(feats: np.ndarray, perplexity: float, seed: int) -> np.ndarray:
    """sklearn t-SNE of L2-normalised features (perplexity clipped below N)."""
    from sklearn.manifold import TSNE
    feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    perplexity = min(perplexity, max(1.0, (len(feats) - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init='pca', random_state=seed,
                metric='euclidean').fit_transform(feats)


def plot(points: np.ndarray, labels, out: str, title: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 7), dpi=120)
    if labels is None or (labels < 0).all():
        ax.scatter(points[:, 0], points[:, 1], s=3, c='tab:blue', alpha=0.7)
    else:
        classes = np.unique(labels[labels >= 0])
        cmap = plt.get_cmap('tab10' if len(classes) <= 10 else 'tab20')
        for i, c in enumerate(classes):
            sel = labels == c
            ax.scatter(points[sel, 0], points[sel, 1], s=3, alpha=0.7,
                       color=cmap(i % cmap.N), label=str(c) if len(classes) <= 20 else None)
        if len(classes) <= 20:
            ax.legend(markerscale=4, fontsize=7, loc='best')
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    if args.features:
        feats, labels = load_npy_pair(args.features, args.labels)
        title = osp.basename(args.features)
    elif args.config and args.checkpoint:
        cfg = Config.fromfile(args.config)
        check_cfg_options(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
        init_default_scope(cfg.get('default_scope', 'selfemb'))
        feats, labels = extract_from_config(cfg, args.checkpoint, args.loader, args.feature)
        title = f'{osp.basename(args.checkpoint)} ({args.feature}, {args.loader})'
    else:
        raise SystemExit('give CONFIG CHECKPOINT, or --features [--labels]')
    if len(feats) > args.max_samples:
        keep = np.sort(np.random.default_rng(args.seed).choice(len(feats), args.max_samples,
                                                                replace=False))
        feats, labels = feats[keep], (None if labels is None else labels[keep])
    if len(feats) < 3:
        raise ValueError(f't-SNE needs at least 3 samples, got {len(feats)}')
    points = tsne_2d(feats, args.perplexity, args.seed)
    plot(points, labels, args.out, f't-SNE of {len(feats)} samples: {title}')
    np.save(osp.splitext(args.out)[0] + '.npy', points.astype(np.float32))
    print(f'wrote {args.out} ({len(feats)} points)')


if __name__ == '__main__':
    main()
