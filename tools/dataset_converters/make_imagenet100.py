"""Make the ImageNet-100 subset (CMC's 100 classes) from an ImageNet-1k download.

    python tools/dataset_converters/make_imagenet100.py IMAGENET_ROOT data/imagenet100 \
        [--classes FILE] [--val-labels FILE]

IMAGENET_ROOT holds ``train/<wnid>/*.JPEG`` and ``val/``, either as class folders
(``val/<wnid>/*.JPEG``) or flat (``val/*.JPEG``) with ``--val-labels``, a file of either
form::

    ILSVRC2012_val_00000001.JPEG n01751748             (one image and its wnid a line)
    ImageId,PredictionString                           (Kaggle's LOC_val_solution.csv:
    ILSVRC2012_val_00000001,n01751748 43 24 302 499    the first token is the wnid)

OUT receives ``train/<wnid>/`` and ``val/<wnid>/`` (symlinks with absolute targets to the
original images) and ``meta/train.txt`` / ``meta/val.txt`` with ``<wnid>/<file> <label>``
lines, relative to ``OUT/train`` / ``OUT/val``, labels 0..N-1 in the order of the class
list (default: ``imagenet100_classes.txt`` next to this script, CMC's list), the format
read by ``configs/_base_/datasets/imagenet100.py``. Nothing is written unless every class
has images in train and val. Rerunning replaces the symlinks and the lists.
"""
import argparse
import os
import os.path as osp
import re
import sys
from typing import Dict, List, Optional, Sequence

DEFAULT_CLASSES = osp.join(osp.dirname(osp.abspath(__file__)), 'imagenet100_classes.txt')
IMG_EXTENSIONS = ('.jpeg', '.jpg', '.png')


def read_classes(path: str) -> List[str]:
    """The wnids of ``path``, one a line (blank lines and ``#`` comments skipped)."""
    with open(path) as f:
        wnids = [line.split()[0] for line in f if line.strip() and not line.startswith('#')]
    bad = [w for w in wnids if not re.fullmatch(r'n\d{8}', w)]
    dups = sorted({w for w in wnids if wnids.count(w) > 1})
    if bad or dups or not wnids:
        raise SystemExit(f'{path}: expected distinct WordNet ids (n + 8 digits), one a line; '
                         f'malformed: {bad}, repeated: {dups}, count: {len(wnids)}')
    return wnids


def read_val_labels(path: str) -> Dict[str, str]:
    """Image file name -> wnid, from ``name wnid`` lines or LOC_val_solution.csv."""
    labels = {}
    with open(path) as f:
        for num, line in enumerate(f, 1):
            if not line.strip() or line.startswith('ImageId,'):
                continue
            tokens = line.replace(',', ' ', 1).split()
            if len(tokens) < 2 or not re.fullmatch(r'n\d{8}', tokens[1]):
                raise SystemExit(f'{path}:{num}: expected "IMAGE WNID" or "ImageId,WNID ...", '
                                 f'got {line.strip()!r}')
            name = tokens[0]
            labels[name if name.lower().endswith(IMG_EXTENSIONS) else name + '.JPEG'] = tokens[1]
    return labels


def images_in(folder: str) -> List[str]:
    return sorted(n for n in os.listdir(folder) if n.lower().endswith(IMG_EXTENSIONS))


def collect(split_dir: str, wnids: Sequence[str],
            val_labels: Optional[Dict[str, str]] = None) -> Dict[str, List[str]]:
    """wnid -> absolute image paths; exits naming the classes without images."""
    split_dir = osp.abspath(split_dir)
    if not osp.isdir(split_dir):
        raise SystemExit(f'no folder {split_dir}')
    found: Dict[str, List[str]] = {w: [] for w in wnids}
    if val_labels is None:
        for w in wnids:
            if osp.isdir(osp.join(split_dir, w)):
                found[w] = [osp.join(split_dir, w, n) for n in images_in(osp.join(split_dir, w))]
    else:
        present = set(os.listdir(split_dir))
        absent = sorted(n for n, w in val_labels.items() if w in found and n not in present)
        if absent:
            raise SystemExit(f'{len(absent)} labelled images of these classes are not in '
                             f'{split_dir}, e.g. {absent[0]}')
        for name, w in sorted(val_labels.items()):
            if w in found:
                found[w].append(osp.join(split_dir, name))
    missing = [w for w in wnids if not found[w]]
    if missing:
        where = f'{split_dir}/<wnid>/' if val_labels is None else \
            f'{split_dir} (images labelled by --val-labels)'
        hint = '' if val_labels is not None or any(
            osp.isdir(osp.join(split_dir, n)) for n in os.listdir(split_dir)) else \
            '; a flat val/ folder needs --val-labels'
        raise SystemExit(f'{len(missing)} of {len(wnids)} classes have no images in {where}: '
                         f'{" ".join(missing)}{hint}')
    return found


def check_replaceable(out_split: str, wnids: Sequence[str]) -> None:
    """Refuse to touch an OUT class folder holding anything but symlinks."""
    for w in wnids:
        folder = osp.join(out_split, w)
        if osp.isdir(folder) and not all(
                osp.islink(osp.join(folder, n)) for n in os.listdir(folder)):
            raise SystemExit(f'{folder} holds files that are not symlinks (is OUT the ImageNet '
                             'root?); not replacing it')


def write_split(out: str, split: str, wnids: Sequence[str], found: Dict[str, List[str]]) -> int:
    lines = []
    for label, w in enumerate(wnids):
        folder = osp.join(out, split, w)
        if osp.isdir(folder):
            for n in os.listdir(folder):
                os.unlink(osp.join(folder, n))
        os.makedirs(folder, exist_ok=True)
        for src in found[w]:
            os.symlink(src, osp.join(folder, osp.basename(src)))
            lines.append(f'{w}/{osp.basename(src)} {label}\n')
    os.makedirs(osp.join(out, 'meta'), exist_ok=True)
    with open(osp.join(out, 'meta', f'{split}.txt'), 'w') as f:
        f.writelines(lines)
    return len(lines)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('imagenet_root', help='ImageNet-1k root with train/ and val/')
    parser.add_argument('out', help='output root, e.g. data/imagenet100')
    parser.add_argument('--classes', default=DEFAULT_CLASSES,
                        help='wnid list, one a line; labels follow its order (default: CMC)')
    parser.add_argument('--val-labels', help='labels of a flat val/ folder: "IMAGE WNID" '
                        'lines or LOC_val_solution.csv')
    args = parser.parse_args(argv)

    wnids = read_classes(args.classes)
    val_labels = read_val_labels(args.val_labels) if args.val_labels else None
    train = collect(osp.join(args.imagenet_root, 'train'), wnids)
    val = collect(osp.join(args.imagenet_root, 'val'), wnids, val_labels)
    for split in ('train', 'val'):
        check_replaceable(osp.join(args.out, split), wnids)
    n_train = write_split(args.out, 'train', wnids, train)
    n_val = write_split(args.out, 'val', wnids, val)
    print(f'{args.out}: {len(wnids)} classes, {n_train} train images, {n_val} val images '
          f'(lists in {osp.join(args.out, "meta")})')


if __name__ == '__main__':
    main(sys.argv[1:])
