"""make_imagenet100.py turns an ImageNet-1k tree (val as class folders or flat with a label
file) into symlinked train/val subsets and list files that ImageList reads, names missing
classes before writing anything, and can be rerun; the shipped class list is CMC's 100."""
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from selfemb.registry import DATASETS
from tests.tool_loader import load_tool

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools/dataset_converters/make_imagenet100.py'
WNIDS = ['n02869837', 'n01749939', 'n02488291']  # not sorted: labels follow list order
EXTRA = 'n01440764'


def load():
    return load_tool(TOOL, 'make_imagenet100')


def jpeg(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new('RGB', (8, 8), (10, 20, 30)).save(path)


@pytest.fixture
def imagenet(tmp_path):
    """A fake ImageNet: 2 train images per class (+ an extra class), val in both layouts."""
    src = tmp_path / 'imagenet'
    for w in WNIDS + [EXTRA]:
        for i in range(2):
            jpeg(src / 'train' / w / f'{w}_{i}.JPEG')
        jpeg(src / 'val' / w / f'{w}_val.JPEG')
    flat, lines, csv = src / 'val_flat', [], ['ImageId,PredictionString']
    for i, w in enumerate(WNIDS + [EXTRA]):
        jpeg(flat / f'ILSVRC2012_val_{i:08d}.JPEG')
        lines.append(f'ILSVRC2012_val_{i:08d}.JPEG {w}')
        csv.append(f'ILSVRC2012_val_{i:08d},{w} 1 2 3 4')
    (tmp_path / 'val_labels.txt').write_text('\n'.join(lines) + '\n')
    (tmp_path / 'LOC_val_solution.csv').write_text('\n'.join(csv) + '\n')
    (tmp_path / 'classes.txt').write_text('\n'.join(WNIDS) + '\n')
    return src


def build(out: Path, split: str):
    # the fields of configs/_base_/datasets/imagenet100.py's loaders
    return DATASETS.build(dict(type='ImageList', data_root=str(out), ann_file=f'meta/{split}.txt',
                               data_prefix=dict(img_path=split), pipeline=[]))


def test_class_folders_and_rerun(imagenet, tmp_path, capsys):
    tool, out = load(), tmp_path / 'in100'
    for _ in range(2):  # the rerun replaces what the first run wrote
        tool.main([str(imagenet), str(out), '--classes', str(tmp_path / 'classes.txt')])
        assert '3 classes, 6 train images, 3 val images' in capsys.readouterr().out
    train = (out / 'meta/train.txt').read_text().splitlines()
    assert train == [f'{w}/{w}_{i}.JPEG {label}' for label, w in enumerate(WNIDS)
                     for i in range(2)]
    assert (out / 'meta/val.txt').read_text().splitlines() == [
        f'{w}/{w}_val.JPEG {label}' for label, w in enumerate(WNIDS)]
    link = out / 'train' / WNIDS[0] / f'{WNIDS[0]}_0.JPEG'
    assert link.is_symlink() and os.path.isabs(os.readlink(link))
    assert link.resolve() == (imagenet / 'train' / WNIDS[0] / f'{WNIDS[0]}_0.JPEG').resolve()
    assert not (out / 'train' / EXTRA).exists() and not (out / 'val' / EXTRA).exists()
    for split, n in (('train', 6), ('val', 3)):
        dataset = build(out, split)
        assert len(dataset) == n
        labels = [dataset.get_data_info(i)['gt_label'] for i in range(n)]
        assert labels == sorted(labels) and set(labels) == {0, 1, 2}
        assert os.path.isfile(dataset.get_data_info(n - 1)['img_path'])


@pytest.mark.parametrize('labels', ['val_labels.txt', 'LOC_val_solution.csv'])
def test_flat_val_with_label_file(imagenet, tmp_path, labels):
    os.rename(imagenet / 'val', imagenet / 'val_folders')
    os.rename(imagenet / 'val_flat', imagenet / 'val')
    out = tmp_path / 'in100'
    load().main([str(imagenet), str(out), '--classes', str(tmp_path / 'classes.txt'),
                      '--val-labels', str(tmp_path / labels)])
    assert (out / 'meta/val.txt').read_text().splitlines() == [
        f'{w}/ILSVRC2012_val_{i:08d}.JPEG {i}' for i, w in enumerate(WNIDS)]
    link = out / 'val' / WNIDS[1] / 'ILSVRC2012_val_00000001.JPEG'
    assert link.resolve() == (imagenet / 'val/ILSVRC2012_val_00000001.JPEG').resolve()
    assert len(build(out, 'val')) == 3


def test_missing_class_is_named_and_nothing_written(imagenet, tmp_path):
    classes = tmp_path / 'more.txt'
    classes.write_text('\n'.join(WNIDS + ['n09999999']) + '\n')
    out = tmp_path / 'in100'
    with pytest.raises(SystemExit, match=r'n09999999') as e:
        load().main([str(imagenet), str(out), '--classes', str(classes)])
    assert str(imagenet / 'train') in str(e.value)
    assert not out.exists()


def test_flat_val_without_labels_says_so(imagenet, tmp_path):
    os.rename(imagenet / 'val', imagenet / 'val_folders')
    os.rename(imagenet / 'val_flat', imagenet / 'val')
    with pytest.raises(SystemExit, match='--val-labels'):
        load().main([str(imagenet), str(tmp_path / 'in100'),
                          '--classes', str(tmp_path / 'classes.txt')])


def test_shipped_list_is_cmc_100():
    wnids = (TOOL.parent / 'imagenet100_classes.txt').read_text().split()
    assert len(wnids) == len(set(wnids)) == 100
    assert all(re.fullmatch(r'n\d{8}', w) for w in wnids)
    assert wnids[:2] == ['n02869837', 'n01749939'] and wnids[-1] == 'n02090622'
    assert load().read_classes(str(TOOL.parent / 'imagenet100_classes.txt')) == wnids


def test_refuses_to_replace_real_images(imagenet, tmp_path):
    with pytest.raises(SystemExit, match='not symlinks'):  # OUT given as the ImageNet root
        load().main([str(imagenet), str(imagenet), '--classes', str(tmp_path / 'classes.txt')])
    assert len(os.listdir(imagenet / 'train' / WNIDS[0])) == 2
