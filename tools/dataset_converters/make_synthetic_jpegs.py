"""Write a synthetic ImageNet-like JPEG tree, to measure input pipelines without ImageNet.

    python tools/dataset_converters/make_synthetic_jpegs.py data/synthetic_in \
        [--classes 300] [--train-per-class 20] [--val-per-class 2] [--quality 90]

The layout is what ``make_imagenet100.py`` writes and the ImageNet / ImageNet-100 configs
read: ``OUT/{train,val}/<class>/<n>.JPEG`` and ``OUT/meta/{train,val}.txt`` with
``<class>/<n>.JPEG <label>`` lines, so any of those configs runs on it with
``--cfg-options train_dataloader.dataset.data_root=OUT`` (and the same for the kNN
loaders). Images have ImageNet's typical sizes (500 x 375 in either orientation,
500 x 333, 400 x 300, 500 x 500) and natural-image-like content: a smooth random field
(bicubic upsampling of a coarse random grid) plus mild noise, which gives file sizes and
decoding costs close to ImageNet photographs (a random-noise image would be several times
larger and slower to decode): about 80 KiB a file at quality 90 (ImageNet: about
110 KiB). The same seed writes the same files.
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from PIL import Image

SIZES = ((500, 375), (375, 500), (500, 333), (400, 300), (500, 500))  # (width, height)


def synthetic_image(rng: np.random.Generator, size: Sequence[int]) -> Image.Image:
    """A ``size = (width, height)`` RGB image: smooth colour field plus noise."""
    width, height = size
    coarse = rng.integers(0, 256, (rng.integers(4, 12), rng.integers(4, 12), 3), np.uint8)
    field = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC),
                       np.float32)
    noise = rng.normal(0.0, 16.0, (height, width, 3)).astype(np.float32)
    return Image.fromarray(np.clip(field + noise, 0, 255).astype(np.uint8))


def write_split(out: str, split: str, classes: int, per_class: int, quality: int,
                rng: np.random.Generator) -> int:
    lines = []
    for label in range(classes):
        name = f'class{label:04d}'
        os.makedirs(osp.join(out, split, name), exist_ok=True)
        for i in range(per_class):
            rel = f'{name}/{i:05d}.JPEG'
            size = SIZES[rng.integers(len(SIZES))]
            synthetic_image(rng, size).save(osp.join(out, split, rel), 'JPEG', quality=quality)
            lines.append(f'{rel} {label}\n')
    os.makedirs(osp.join(out, 'meta'), exist_ok=True)
    with open(osp.join(out, 'meta', f'{split}.txt'), 'w') as f:
        f.writelines(lines)
    return len(lines)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', help='output folder')
    parser.add_argument('--classes', type=int, default=300)
    parser.add_argument('--train-per-class', type=int, default=20)
    parser.add_argument('--val-per-class', type=int, default=2)
    parser.add_argument('--quality', type=int, default=90, help='JPEG quality (1-95)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.classes < 1 or args.train_per_class < 1 or args.val_per_class < 1:
        parser.error('--classes, --train-per-class and --val-per-class must be >= 1')
    if not 1 <= args.quality <= 95:
        parser.error(f'--quality must be in 1..95, got {args.quality}')
    rng = np.random.default_rng(args.seed)
    counts = [write_split(args.out, split, args.classes, per_class, args.quality, rng)
              for split, per_class in (('train', args.train_per_class),
                                       ('val', args.val_per_class))]
    print(f'{args.out}: {counts[0]} train and {counts[1]} val JPEGs in {args.classes} classes '
          f'(quality {args.quality}); lists in {osp.join(args.out, "meta")}')


if __name__ == '__main__':
    main()
