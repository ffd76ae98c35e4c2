"""Save a config's model as initialised, before any training: the untrained reference of
the downstream protocols (linear probe, Recall@K / NMI) beside a trained checkpoint.

    python tools/model_converters/untrained_checkpoint.py CONFIG OUT.pth [--seed 0]

The model is built as the Runner builds it, after seeding every generator with ``--seed``
(default: the config's ``randomness.seed``, else 0), in PyTorch's default initialisation
with its default BatchNorm statistics. OUT holds ``{'state_dict', 'meta'}`` (tensors and
plain values only, written atomically) with ``meta['selfemb']`` naming the algorithm and
config, so it loads wherever that config's own checkpoints do (``StrictPretrained``,
``tools/benchmarks/recall_at_k.py``). Dataset-sized state (memory banks) is left empty.
"""
import argparse
import io

import torch
from mmengine.config import Config
from mmengine.runner import set_random_seed

from selfemb import __version__
from selfemb.apis.model import build_model_from_cfg
from selfemb.utils.checkpoint import atomic_write_bytes


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Save a config's untrained model")
    parser.add_argument('config', help='training config (e.g. configs/isif/r18_fmnist.py)')
    parser.add_argument('out', help='checkpoint path to write')
    parser.add_argument('--seed', type=int, help="default: the config's randomness.seed, "
                        'else 0')
    return parser.parse_args()


def untrained_checkpoint(config: str, seed: int = None) -> dict:
    """``{'state_dict', 'meta'}`` of ``config``'s model right after its initialisation."""
    cfg = Config.fromfile(config)
    if seed is None:
        seed = (cfg.get('randomness') or {}).get('seed')
    seed = 0 if seed is None else seed
    set_random_seed(seed)
    model = build_model_from_cfg(cfg)
    if hasattr(model, 'init_weights'):
        model.init_weights()
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    meta = dict(seed=seed, selfemb=dict(version=__version__, algorithm=type(model).__name__,
                                        config=config, dataset_length=None))
    return dict(state_dict=state, meta=meta)


def main() -> None:
    args = parse_args()
    checkpoint = untrained_checkpoint(args.config, args.seed)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    atomic_write_bytes(buffer.getvalue(), args.out)
    print(f"wrote {args.out}: {checkpoint['meta']['selfemb']['algorithm']} of {args.config} "
          f"as initialised (seed {checkpoint['meta']['seed']}), "
          f"{len(checkpoint['state_dict'])} tensors")


if __name__ == '__main__':
    main()
