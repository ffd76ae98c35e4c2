"""The GPU input path on the CPU: crops equal a naive reference, evaluation views equal
resize + centre crop, training views have the CPU pipeline's statistics, DALI and
torchvision agree, and an undecodable file is reported with its path."""
import io

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope
from mmengine.structures import BaseDataElement
from PIL import Image

from selfemb.datasets import SampleLoadError
from selfemb.models.data_preprocessors import EncodedImagePreprocessor, SelfSupPreprocessor
from selfemb.models.data_preprocessors.image_decoders import TorchvisionDecoder, cpu_decode

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
SIZES = [(90, 120), (120, 90), (64, 64), (75, 100)]  # (H, W)


def smooth_image(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (4, 5, 3), np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC))


def jpeg_bytes(array: np.ndarray, quality: int = 95) -> torch.Tensor:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, 'JPEG', quality=quality)
    return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)


def batch(arrays, encode=True):
    inputs = [jpeg_bytes(a) if encode else torch.from_numpy(a).permute(2, 0, 1).contiguous()
              for a in arrays]
    samples = [BaseDataElement(metainfo=dict(ori_shape=a.shape[:2], img_path=f'img{i}.jpg'))
               for i, a in enumerate(arrays)]
    return dict(inputs=inputs, data_samples=samples)


def preprocessor(**kwargs) -> EncodedImagePreprocessor:
    kwargs.setdefault('decoder', 'torchvision')
    return EncodedImagePreprocessor(mean=MEAN, std=STD, **kwargs)


ARRAYS = [smooth_image(h, w, i) for i, (h, w) in enumerate(SIZES)]


def test_whole_image_box_is_the_image():
    images = [torch.from_numpy(a).permute(2, 0, 1) for a in ARRAYS[2:3]]  # 64 x 64
    boxes = torch.tensor([[[0.0, 0.0, 64.0, 64.0]]])
    out = TorchvisionDecoder().decode_crops(images, boxes, 64, ['x'], torch.device('cpu'))
    torch.testing.assert_close(out[0] * 255, images[0].float(), atol=1e-3, rtol=0)


def test_crop_matches_naive_crop_then_resize():
    image = torch.from_numpy(ARRAYS[0]).permute(2, 0, 1)  # 90 x 120
    boxes = torch.tensor([[[10.0, 20.0, 74.0, 84.0]]])  # a 64 x 64 crop resized to 32
    out = TorchvisionDecoder().decode_crops([image], boxes, 32, ['x'], torch.device('cpu'))
    reference = TF.resize(image[:, 20:84, 10:74].float(), [32, 32], antialias=True) / 255
    assert (out[0] - reference).abs().mean() < 0.01


def test_eval_view_is_resize_then_centre_crop():
    pre = preprocessor(crop_size=32, test_resize=36)
    views = pre(batch(ARRAYS[:2]), training=False)['inputs']
    assert len(views) == 1 and views[0].shape == (2, 3, 32, 32)
    for i, array in enumerate(ARRAYS[:2]):
        decoded = cpu_decode(jpeg_bytes(array), 'x').float()
        reference = TF.center_crop(TF.resize(decoded, 36, antialias=True), 32)
        normalised = (reference - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None,
                                                                                          None]
        assert (views[0][i] - normalised).abs().mean() < 0.05


def test_training_views_two_per_image_reproducible():
    pre = preprocessor(crop_size=24, num_views=2,
                       batch_augments=[dict(type='BatchHorizontalFlip', p=0.5)])
    torch.manual_seed(3)
    first = pre(batch(ARRAYS), training=True)['inputs']
    torch.manual_seed(3)
    again = pre(batch(ARRAYS), training=True)['inputs']
    assert len(first) == 2 and first[0].shape == (4, 3, 24, 24)
    for a, b in zip(first, again):
        assert torch.equal(a, b)
    assert not torch.equal(first[0], first[1])


def test_decoded_and_encoded_images_mix():
    """A worker-decoded image (PNG, CMYK) in a batch of JPEG bytes is cropped the same way."""
    pre = preprocessor(crop_size=16)
    data = batch(ARRAYS)
    data['inputs'][1] = cpu_decode(data['inputs'][1], 'x')  # as LoadImageBytes decodes
    torch.manual_seed(0)
    mixed = pre(data, training=True)['inputs']
    torch.manual_seed(0)
    encoded = pre(batch(ARRAYS), training=True)['inputs']
    for a, b in zip(mixed, encoded):
        torch.testing.assert_close(a, b)


def test_broken_jpeg_is_named():
    data = batch(ARRAYS[:2])
    data['inputs'][1] = data['inputs'][1][:len(data['inputs'][1]) // 2]  # truncated
    with pytest.raises(SampleLoadError, match='img1.jpg'):
        preprocessor(crop_size=16)(data, training=True)


def test_other_inputs_go_to_selfsup_preprocessor():
    pre, plain = preprocessor(), SelfSupPreprocessor(mean=MEAN, std=STD)
    views = [torch.rand(2, 3, 8, 8) * 255]
    data = dict(inputs=views, data_samples=None)
    torch.testing.assert_close(pre(data)['inputs'][0], plain(data)['inputs'][0])


def test_bad_settings_and_inputs_are_named():
    with pytest.raises(ValueError, match='to_rgb'):
        preprocessor(to_rgb=True)
    with pytest.raises(ValueError, match='decoder'):
        preprocessor(decoder='pil')
    with pytest.raises(ValueError, match='test_resize'):
        preprocessor(crop_size=224, test_resize=200)
    data = batch(ARRAYS[:1])
    data['data_samples'] = [BaseDataElement()]
    with pytest.raises(ValueError, match='ori_shape'):
        preprocessor()(data)


def cpu_pipeline_views(arrays, repeats: int, size: int) -> torch.Tensor:
    """Views of the CPU recipe of configs/_base_/datasets/imagenet.py (BGR in, RGB out)."""
    with DefaultScope.overwrite_default_scope('selfemb'):
        pipeline = Compose([
            dict(type='mmpretrain.RandomResizedCrop', scale=size, crop_ratio_range=(0.2, 1.0)),
            dict(type='mmpretrain.RandomGrayscale', prob=0.2, keep_channels=True,
                 channel_weights=(0.114, 0.587, 0.299)),
            dict(type='mmpretrain.ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
                 hue=0.4),
            dict(type='RandomFlip', prob=0.5),
        ])
    views = [pipeline(dict(img=np.ascontiguousarray(a[..., ::-1])))['img']
             for _ in range(repeats) for a in arrays]
    bgr = torch.from_numpy(np.stack(views)).permute(0, 3, 1, 2).float()
    return (bgr.flip(1) - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]


def summary(views: torch.Tensor) -> torch.Tensor:
    """Per-channel mean and std, mean per-view std, and the share of gray views."""
    pixels = views * torch.tensor(STD)[:, None, None] + torch.tensor(MEAN)[:, None, None]
    gray = (pixels - pixels.mean(1, keepdim=True)).abs().amax((1, 2, 3)) < 1.0
    return torch.cat([views.mean((0, 2, 3)), views.std((0, 2, 3)),
                      views.std((2, 3)).mean(0), gray.float().mean()[None]])


def test_views_have_the_cpu_pipelines_statistics():
    np.random.seed(0)
    torch.manual_seed(0)
    size, repeats = 24, 100
    cpu = cpu_pipeline_views(ARRAYS, repeats, size)
    pre = preprocessor(crop_size=size, num_views=2, batch_augments=[
        dict(type='BatchRandomGrayscale', p=0.2),
        dict(type='BatchColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.4),
        dict(type='BatchHorizontalFlip', p=0.5)])
    gpu = torch.cat([torch.cat(pre(batch(ARRAYS), training=True)['inputs'])
                     for _ in range(repeats // 2)])
    assert cpu.shape == gpu.shape
    cpu_stats, gpu_stats = summary(cpu), summary(gpu)
    # means / stds within 0.1 std units, gray share within 0.06 (400 views each)
    assert (cpu_stats[:9] - gpu_stats[:9]).abs().max() < 0.1, (cpu_stats, gpu_stats)
    assert abs(cpu_stats[9] - gpu_stats[9]) < 0.06, (cpu_stats, gpu_stats)


def test_dali_and_torchvision_crops_agree():
    pytest.importorskip('nvidia.dali')
    from selfemb.models.data_preprocessors.image_decoders import DALIDecoder
    images = [jpeg_bytes(a) for a in ARRAYS] + [torch.from_numpy(ARRAYS[0]).permute(2, 0, 1)]
    sizes = SIZES + SIZES[:1]
    heights = torch.tensor([h for h, _ in sizes] * 2, dtype=torch.float32)
    widths = torch.tensor([w for _, w in sizes] * 2, dtype=torch.float32)
    torch.manual_seed(0)
    from selfemb.models.data_preprocessors import BatchRandomResizedCrop
    boxes = BatchRandomResizedCrop(32, (0.2, 1.0)).sample_boxes(10, heights, widths).view(2, 5, 4)
    paths = [f'img{i}.jpg' for i in range(5)]
    cpu = torch.device('cpu')
    reference = TorchvisionDecoder().decode_crops(images, boxes, 32, paths, cpu)
    dali = DALIDecoder(num_threads=1).decode_crops(images, boxes, 32, paths, cpu)
    assert dali.shape == reference.shape == (10, 3, 32, 32)
    assert (dali - reference).abs().mean() < 0.01  # both bilinear, antialiased
    broken = list(images)
    broken[2] = broken[2][:len(broken[2]) // 2]
    with pytest.raises(SampleLoadError, match='img2.jpg'):
        DALIDecoder(num_threads=1).decode_crops(broken, boxes, 32, paths, cpu)
