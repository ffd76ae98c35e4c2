"""CLD's unsupervised model-selection score NMI(f, f') * R(f, f') of a checkpoint.

f and f' are the embeddings of two augmented views of the same training images, made by
the config's own training augmentation (``train_dataloader`` + the data preprocessor in
training mode, model in eval mode); no label is read. Higher is better; compare
checkpoints of different hyper-parameters on the same data, k and seed. From files:
two (N, D) .npy arrays whose row i are the two views of image i.

    python tools/analysis/model_selection_score.py CONFIG CHECKPOINT --k 10 \
        [--max-samples 10000] [--feature embedding]
    python tools/analysis/model_selection_score.py --features v1.npy --features-other v2.npy --k 10
"""
import argparse
import json
import os.path as osp
import sys

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from selfemb.engine.config_check import check_cfg_options
from selfemb.evaluation import cld_model_selection_score


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="CLD's NMI(f,f')*R(f,f') score")
    parser.add_argument('config', nargs='?')
    parser.add_argument('checkpoint', nargs='?')
    parser.add_argument('--features', help='(N, D) .npy of view 1 instead of CONFIG + CKPT')
    parser.add_argument('--features-other', help='(N, D) .npy of view 2')
    parser.add_argument('--k', type=int, required=True, help='k-means clusters per view')
    parser.add_argument('--max-samples', type=int, default=10000)
    parser.add_argument('--feature', choices=['embedding', 'backbone'], default='embedding')
    parser.add_argument('--nredo', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args()


@torch.no_grad()
def two_view_features(cfg: Config, checkpoint: str, feature: str, max_samples: int, seed: int):
    """Embeddings of two training-augmented views of up to ``max_samples`` images."""
    from mmengine.runner import Runner

    from selfemb.apis.model import init_model
    from selfemb.evaluation.features import forward_feature
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = init_model(cfg, checkpoint, device=device)
    torch.manual_seed(seed)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=seed)
    views = [[], []]
    for batch in loader:
        inputs = model.data_preprocessor(batch, True)['inputs']
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError('the training data path gives one view; the score needs two '
                             '(MultiView in the train pipeline, or num_views=2 batch_augments)')
        for v in (0, 1):
            views[v].append(forward_feature(model, inputs[v], feature))
        if sum(len(x) for x in views[0]) >= max_samples:
            break
    return [torch.cat(v)[:max_samples].numpy() for v in views]


def main() -> None:
    args = parse_args()
    if args.features and args.features_other:
        f, g = np.load(args.features), np.load(args.features_other)
        source = f'{args.features} / {args.features_other}'
    elif args.config and args.checkpoint:
        cfg = Config.fromfile(args.config)
        check_cfg_options(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
        init_default_scope(cfg.get('default_scope', 'selfemb'))
        f, g = two_view_features(cfg, args.checkpoint, args.feature, args.max_samples,
                                 args.seed)
        source = f'{args.checkpoint} ({args.feature}, {len(f)} training images)'
    else:
        raise SystemExit('give CONFIG CHECKPOINT, or --features and --features-other')
    result = cld_model_selection_score(f, g, k=args.k, seed=args.seed, nredo=args.nredo)
    print(f"{source}: NMI(f,f') {result['nmi']:.4f}  R(f,f') {result['retrieval']:.4f}  "
          f"score {result['score']:.4f}")
    sys.stdout.write(json.dumps(dict(result, k=args.k, num_samples=len(f))) + '\n')


if __name__ == '__main__':
    main()
