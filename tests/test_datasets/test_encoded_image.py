"""LoadImageBytes hands JPEGs to the GPU undecoded and decodes the rest itself, upright, with
the upright size; a file that is not an image fails with its path."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from selfemb.datasets import ImageList, LoadImageBytes, SampleLoadError

RNG = np.random.default_rng(0)


def write(path: Path, mode: str = 'RGB', fmt: str = 'JPEG', size=(30, 20), **save) -> Path:
    """A ``size = (width, height)`` image with random content."""
    array = RNG.integers(0, 256, (size[1], size[0], 3), np.uint8)
    Image.fromarray(array).convert(mode).save(path, fmt, **save)
    return path


def load(path: Path) -> dict:
    return LoadImageBytes()(dict(img_path=str(path)))


@pytest.mark.parametrize('mode', ['RGB', 'L'])
def test_jpeg_stays_encoded(tmp_path, mode):
    path = write(tmp_path / 'a.jpg', mode)
    out = load(path)
    assert out['img'].dtype == torch.uint8 and out['img'].ndim == 1
    assert out['img'].numpy().tobytes() == path.read_bytes()
    assert out['ori_shape'] == out['img_shape'] == (20, 30)


@pytest.mark.parametrize('mode,fmt', [('CMYK', 'JPEG'), ('RGB', 'PNG'), ('L', 'PNG'),
                                      ('RGBA', 'PNG')])
def test_other_images_are_decoded_to_rgb(tmp_path, mode, fmt):
    path = write(tmp_path / f'a.{fmt.lower()}', mode, fmt)
    out = load(path)
    assert out['img'].shape == (3, 20, 30) and out['img'].dtype == torch.uint8
    expected = np.asarray(Image.open(path).convert('RGB')).transpose(2, 0, 1)
    tolerance = 2 if mode == 'CMYK' else 0  # libjpeg's and PIL's CMYK inversion may round
    assert np.abs(out['img'].numpy().astype(int) - expected).max() <= tolerance


def test_exif_rotation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    path = write(tmp_path / 'rot.jpg', size=(30, 20), exif=exif.tobytes())
    out = load(path)
    assert out['img'].shape == (3, 30, 20) and out['ori_shape'] == (30, 20)


@pytest.mark.parametrize('content', [b'', b'not an image at all', b'\xff\xd8\xff' + b'x' * 50])
def test_unreadable_file_is_named(tmp_path, content):
    path = tmp_path / 'bad.jpg'
    path.write_bytes(content)
    with pytest.raises(ValueError, match='bad.jpg'):
        load(path)


def test_dataset_reports_the_file(tmp_path):
    write(tmp_path / 'ok.jpg')
    (tmp_path / 'broken.jpg').write_bytes(b'garbage')
    (tmp_path / 'list.txt').write_text('ok.jpg 0\nbroken.jpg 1\n')
    dataset = ImageList(data_root=str(tmp_path), ann_file='list.txt',
                        pipeline=[dict(type='selfemb.LoadImageBytes'),
                                  dict(type='mmpretrain.PackInputs')])
    assert dataset[0]['inputs'].ndim == 1
    assert dataset[0]['data_samples'].ori_shape == (20, 30)
    with pytest.raises(SampleLoadError, match='broken.jpg'):
        dataset[1]
