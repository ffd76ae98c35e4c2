"""make_synthetic_jpegs.py writes an ImageList-readable JPEG tree of ImageNet-like sizes,
the same files for the same seed, and refuses bad arguments."""
from pathlib import Path

import pytest
from PIL import Image

from selfemb.datasets import ImageList
from tests.tool_loader import load_tool

TOOL = Path(__file__).resolve().parents[2] / 'tools/dataset_converters/make_synthetic_jpegs.py'


def load():
    return load_tool(TOOL, 'make_synthetic_jpegs')


def test_tree_lists_sizes_and_seed(tmp_path):
    tool = load()
    args = ['--classes', '3', '--train-per-class', '4', '--val-per-class', '1']
    tool.main([str(tmp_path / 'a'), *args])
    tool.main([str(tmp_path / 'b'), *args])
    for split, count in (('train', 12), ('val', 3)):
        data = ImageList(data_root=str(tmp_path / 'a'), ann_file=f'meta/{split}.txt',
                         data_prefix=dict(img_path=split))
        assert len(data) == count
        assert sorted({data.get_data_info(i)['gt_label'] for i in range(count)}) == [0, 1, 2]
        for i in range(count):
            path = Path(data.get_data_info(i)['img_path'])
            with Image.open(path) as image:
                assert image.format == 'JPEG' and image.mode == 'RGB'
                assert image.size in tool.SIZES
            twin = tmp_path / 'b' / path.relative_to(tmp_path / 'a')
            assert twin.read_bytes() == path.read_bytes()


@pytest.mark.parametrize('bad', [['--classes', '0'], ['--quality', '100']])
def test_bad_arguments(tmp_path, bad):
    with pytest.raises(SystemExit):
        load().main([str(tmp_path), *bad])
