"""A tiny PASCAL VOC in the real on-disk layout (VOCdevkit/VOC2007 + VOC2012), for
running the mmdet / mmseg transfer configs on CPU."""
from pathlib import Path
from typing import List

import cv2
import numpy as np
from PIL import Image

CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
           'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant',
           'sheep', 'sofa', 'train', 'tvmonitor')


def voc_palette() -> List[int]:
    """The standard VOC colour map (bit-interleaved class index), flattened RGB."""
    palette = []
    for idx in range(256):
        r = g = b = 0
        c = idx
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        palette += [r, g, b]
    return palette


def _annotation(name: str, width: int, height: int, boxes) -> str:
    objects = ''.join(
        f'<object><name>{CLASSES[c]}</name><pose>Unspecified</pose><truncated>0</truncated>'
        f'<difficult>0</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>'
        f'<ymax>{y2}</ymax></bndbox></object>' for c, (x1, y1, x2, y2) in boxes)
    return (f'<annotation><folder>VOC</folder><filename>{name}.jpg</filename><size>'
            f'<width>{width}</width><height>{height}</height><depth>3</depth></size>'
            f'<segmented>1</segmented>{objects}</annotation>')


def write_voc(root: Path, per_year: int = 4, width: int = 128, height: int = 96,
              seed: int = 0) -> Path:
    """``root/VOCdevkit`` with VOC2007 (trainval + test) and VOC2012 (trainval, plus
    Segmentation train / val / aug lists, SegmentationClass palette PNGs and
    SegmentationClassAug gray PNGs). Every image holds one or two boxes whose pixels are
    also the object's class in the masks (255 on a 2-pixel border, as in VOC)."""
    rng = np.random.default_rng(seed)
    devkit = root / 'VOCdevkit'
    palette = voc_palette()
    for year in ('VOC2007', 'VOC2012'):
        base = devkit / year
        for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main', 'ImageSets/Segmentation',
                    'SegmentationClass', 'SegmentationClassAug'):
            (base / sub).mkdir(parents=True, exist_ok=True)
        names = [f'{year[3:]}_{i:06d}' for i in range(per_year + (2 if year == 'VOC2007' else 0))]
        for i, name in enumerate(names):
            image = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
            mask = np.zeros((height, width), np.uint8)
            boxes = []
            for k in range(1 + i % 2):
                cls = int(rng.integers(0, len(CLASSES)))
                x1, y1 = int(rng.integers(2, width // 2)), int(rng.integers(2, height // 2))
                x2 = x1 + int(rng.integers(40, width // 2))
                y2 = y1 + int(rng.integers(36, height // 2))
                image[y1:y2, x1:x2] = 60 + 9 * cls
                mask[y1:y2, x1:x2] = cls + 1
                boxes.append((cls, (x1 + 1, y1 + 1, x2, y2)))
            mask[:2], mask[-2:] = 255, 255
            cv2.imwrite(str(base / 'JPEGImages' / f'{name}.jpg'), image)
            (base / 'Annotations' / f'{name}.xml').write_text(
                _annotation(name, width, height, boxes))
            png = Image.fromarray(mask, mode='P')
            png.putpalette(palette)
            png.save(base / 'SegmentationClass' / f'{name}.png')
            Image.fromarray(mask, mode='L').save(base / 'SegmentationClassAug' / f'{name}.png')
        train, test = names[:per_year], names[per_year:] or names[-2:]
        lists = {'Main/trainval.txt': train, 'Main/test.txt': test,
                 'Segmentation/train.txt': train[:per_year // 2],
                 'Segmentation/aug.txt': train[per_year // 2:],
                 'Segmentation/val.txt': names[-2:]}
        for rel, items in lists.items():
            (base / 'ImageSets' / rel).write_text(''.join(f'{n}\n' for n in items))
    return devkit


def write_voc07_classification(root: Path, n_trainval: int = 20, n_test: int = 20,
                               size: int = 40, seed: int = 0) -> Path:
    """``root/VOCdevkit/VOC2007`` for the SVM benchmark: JPEGImages, ImageSets/Main/
    {trainval,test}.txt and <class>_<split>.txt (1 present, -1 absent, 0 difficult).
    Image i shows class i % 20 (so every class has a positive in both splits when each
    split has >= 20 images) and, every third image, class (i + 7) % 20 as difficult."""
    rng = np.random.default_rng(seed)
    base = root / 'VOCdevkit' / 'VOC2007'
    main = base / 'ImageSets' / 'Main'
    main.mkdir(parents=True, exist_ok=True)
    (base / 'JPEGImages').mkdir(exist_ok=True)
    start = 0
    for split, num in (('trainval', n_trainval), ('test', n_test)):
        ids = [f'{start + i:06d}' for i in range(num)]
        start += num
        labels = np.full((num, len(CLASSES)), -1, np.int8)
        for i, name in enumerate(ids):
            labels[i, i % len(CLASSES)] = 1
            if i % 3 == 0:
                labels[i, (i + 7) % len(CLASSES)] = 0
            image = rng.integers(0, 40, (size, size, 3), dtype=np.uint8)
            image[size // 4:3 * size // 4, size // 4:3 * size // 4] = 60 + 9 * (i % 20)
            cv2.imwrite(str(base / 'JPEGImages' / f'{name}.jpg'), image)
        (main / f'{split}.txt').write_text(''.join(f'{n}\n' for n in ids))
        for c, cls in enumerate(CLASSES):
            (main / f'{cls}_{split}.txt').write_text(
                ''.join(f'{n} {t:2d}\n' for n, t in zip(ids, labels[:, c])))
    return base
