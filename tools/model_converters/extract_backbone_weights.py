"""Export the backbone of a selfemb checkpoint for detection / segmentation / classification.

    python tools/model_converters/extract_backbone_weights.py IN.pth OUT.pth \
        [--target mmdet|mmseg|mmpretrain] [--target-depth 50] [--trust-checkpoint]

OUT holds ``{'state_dict': {'backbone.<key>': tensor}, 'meta': {...}}`` (tensors only).
Load it downstream with ``init_cfg=dict(type='Pretrained', checkpoint=OUT,
prefix='backbone.')``. The tool builds the target's modules (mmdet: Faster R-CNN C4
backbone + res5 shared head; mmseg: FCN-D8 plain ResNet; mmpretrain: ResNet /
ResNet_CIFAR) of depth ``--target-depth`` (default: the checkpoint's own; the mmdet /
mmseg dist_train.sh scripts pass 50, the depth of their configs) and exits with status 1,
listing the keys, when any is missing, unexpected or of the wrong shape. The mmdet shared
head's extra norm after res5 is not in any checkpoint: it is reported as a note and
starts fresh. A Super-AND SobelResNet exports its RGB trunk; a CIFAR ResNet is
converted with a warning about its 3x3 stem.

IN is loaded with ``torch.load(weights_only=True)`` (selfemb's own checkpoints pass); any
other pickle is refused before anything in it runs, unless ``--trust-checkpoint`` is given
for a file you trust.
"""
import argparse
import io
import os.path as osp
import sys

import torch

import selfemb.engine  # noqa: F401  (weights-only loading of local checkpoints)
from selfemb.transfer.backbone_weights import TARGETS, convert_checkpoint
from selfemb.utils.checkpoint import (
    CheckpointFormatError,
    UntrustedCheckpointError,
    atomic_write_bytes,
    trust_checkpoints,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Extract backbone weights for transfer')
    parser.add_argument('input', help='selfemb training checkpoint')
    parser.add_argument('output', help='backbone-only checkpoint to write')
    parser.add_argument('--target', choices=TARGETS, default='mmdet',
                        help='library whose backbone must load the weights (checked)')
    parser.add_argument('--target-depth', type=int,
                        help="the downstream ResNet's depth (default: the checkpoint's)")
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load an input that is not tensors-only in full (unpickling can '
                        'run code from the file: only for files you trust)')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    from mmengine.runner.checkpoint import _load_checkpoint
    if not osp.isfile(args.input):
        print(f'error: checkpoint {args.input} does not exist', file=sys.stderr)
        return 2
    if args.trust_checkpoint:
        trust_checkpoints()
    try:
        checkpoint = _load_checkpoint(args.input, 'cpu')
    except (UntrustedCheckpointError, CheckpointFormatError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    try:
        out, report, notes = convert_checkpoint(checkpoint, args.target, args.target_depth)
    except (KeyError, ValueError) as err:
        print(f'error: {args.input}: {err.args[0] if err.args else err}', file=sys.stderr)
        return 1
    for note in notes:
        print(note)
    bad = {kind: keys for kind, keys in report.items() if keys}
    if bad:
        print(f'error: the weights do not load into the {args.target} backbone:',
              file=sys.stderr)
        for kind, keys in bad.items():
            print(f'  {kind} ({len(keys)}): ' + ', '.join(keys), file=sys.stderr)
        return 1
    out['meta']['source'] = osp.abspath(args.input)
    buffer = io.BytesIO()
    torch.save(out, buffer)
    atomic_write_bytes(buffer.getvalue(), args.output)
    print(f"wrote {args.output}: {len(out['state_dict'])} tensors under 'backbone.'; "
          f'{args.target}: 0 missing, 0 unexpected, 0 mismatched keys')
    return 0


if __name__ == '__main__':
    sys.exit(main())
