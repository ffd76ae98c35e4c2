import copy

import numpy as np
import pytest
import torch
from mmcv.transforms import RandomFlip
from mmengine.dataset import default_collate, pseudo_collate
from mmpretrain.datasets.transforms import MultiView, PackInputs
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader

from selfemb.datasets.base import InMemoryDataset
from selfemb.datasets.device import device_collate
from selfemb.models.data_preprocessors.selfsup_preprocessor import SelfSupPreprocessor
from selfemb.registry import MODELS

MEAN, STD = [125.3, 123.0, 113.9], [51.6, 50.8, 51.3]
ISIF = [dict(type='BatchRandomResizedCrop', size=8, scale=(0.2, 1.0)),
        dict(type='BatchColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.4),
        dict(type='BatchRandomGrayscale', p=0.2), dict(type='BatchHorizontalFlip')]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def reference(batch_uint8):
    """Normalisation oracle in float64: (x - mean) / std per channel."""
    mean = torch.tensor(MEAN, dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float64).view(1, 3, 1, 1)
    return ((batch_uint8.double() - mean) / std).float()


def np_images(n=4, h=6, w=7):
    return [np.random.RandomState(i).randint(0, 256, (h, w, 3), dtype=np.uint8) for i in range(n)]


def close(a, b):
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_form_a_single_view_pipeline():
    imgs = np_images()
    data = pseudo_collate([PackInputs()(dict(img=im, sample_idx=i)) for i, im in enumerate(imgs)])
    pre = MODELS.build(dict(type='SelfSupPreprocessor', mean=MEAN, std=STD))
    out = pre(data, training=True)
    assert isinstance(out['inputs'], list) and len(out['inputs']) == 1
    view = out['inputs'][0]
    assert view.dtype == torch.float32 and view.shape == (4, 3, 6, 7)
    close(view, reference(torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2)))
    assert [s.sample_idx for s in out['data_samples']] == [0, 1, 2, 3]


@pytest.mark.parametrize('collate', [pseudo_collate, default_collate])
def test_form_b_multiview_pipeline(collate):
    imgs = np_images()
    pipeline = MultiView(num_views=[1, 1],
                         transforms=[[], [RandomFlip(prob=1.0, direction='horizontal')]])
    packed = [PackInputs()(pipeline(dict(img=im))) for im in imgs]
    assert isinstance(packed[0]['inputs'], list) and len(packed[0]['inputs']) == 2
    data = collate(packed)
    out = SelfSupPreprocessor(MEAN, STD)(data, training=True)
    batch = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2)
    assert len(out['inputs']) == 2
    close(out['inputs'][0], reference(batch))
    close(out['inputs'][1], reference(batch.flip(3)))


def test_form_b_rejects_per_sample_nesting():
    views = [[torch.zeros(3, 4, 4, dtype=torch.uint8)] * 2 for _ in range(3)]  # 3 samples x 2
    data = dict(inputs=views, data_samples=[DataSample() for _ in range(3)])
    with pytest.raises(ValueError, match='list over views'):
        SelfSupPreprocessor(MEAN, STD)(data)


def test_form_c_eval_and_training_views():
    batch = torch.randint(0, 256, (5, 3, 10, 10), dtype=torch.uint8)
    pre = SelfSupPreprocessor(MEAN, STD, num_views=2, batch_augments=ISIF, cuda_graph=False)
    for training in (False, True):
        plain = SelfSupPreprocessor(MEAN, STD)(dict(inputs=batch), training=training)['inputs']
        assert len(plain) == 1
        close(plain[0], reference(batch))
    evald = pre(dict(inputs=batch), training=False)['inputs']
    assert len(evald) == 1
    close(evald[0], reference(batch))
    views = pre(dict(inputs=batch, data_samples=None), training=True)['inputs']
    assert len(views) == 2 and all(v.shape == (5, 3, 8, 8) and v.dtype == torch.float32
                                   for v in views)
    lo, hi = reference(torch.zeros(1, 3, 1, 1)), reference(torch.full((1, 3, 1, 1), 255))
    assert all(((v >= lo - 1e-5) & (v <= hi + 1e-5)).all() for v in views)
    assert (views[0] - views[1]).abs().mean() > 0.1  # independent augmentations
    three = SelfSupPreprocessor(MEAN, STD, num_views=3, batch_augments=ISIF)
    assert len(three(dict(inputs=batch), training=True)['inputs']) == 3


def test_form_c_deterministic_augment_numerics():
    batch = torch.randint(0, 256, (4, 3, 6, 6), dtype=torch.uint8)
    pre = SelfSupPreprocessor(MEAN, STD, batch_augments=[
        dict(type='BatchHorizontalFlip', p=1.0), dict(type='BatchRandomGrayscale', p=1.0)])
    views = pre(dict(inputs=batch), training=True)['inputs']
    gray = (0.299 * batch[:, :1].double() + 0.587 * batch[:, 1:2] + 0.114 * batch[:, 2:])
    ref = reference(gray.flip(3).expand(-1, 3, -1, -1))
    assert len(views) == 2
    close(views[0], ref)
    close(views[1], ref)


def test_channels_last_grayscale_rgb_order_and_float_inputs():
    batch = torch.randint(0, 256, (3, 3, 6, 6), dtype=torch.uint8)
    pre = SelfSupPreprocessor(MEAN, STD, channels_last=True, batch_augments=ISIF)
    for data, training in ((dict(inputs=batch), False), (dict(inputs=batch), True),
                           (dict(inputs=list(batch)), False)):
        for v in pre(data, training=training)['inputs']:
            assert v.is_contiguous(memory_format=torch.channels_last)
    close(pre(dict(inputs=batch))['inputs'][0], reference(batch))
    gray = torch.randint(0, 256, (3, 1, 6, 6), dtype=torch.uint8)
    close(pre(dict(inputs=gray))['inputs'][0], reference(gray.expand(-1, 3, -1, -1)))
    assert pre(dict(inputs=gray), training=True)['inputs'][0].shape == (3, 3, 8, 8)
    with pytest.raises(ValueError, match='channels'):
        SelfSupPreprocessor([0.0, 0.0], [1.0, 1.0])(dict(inputs=gray))
    rgb = SelfSupPreprocessor(MEAN, STD, to_rgb=True)(dict(inputs=batch.flip(1)))['inputs'][0]
    close(rgb, reference(batch))
    flt = batch.float()
    out = SelfSupPreprocessor(MEAN, STD, num_views=1, batch_augments=ISIF[3:])(
        dict(inputs=flt), training=True)
    assert torch.equal(flt, batch.float()) and len(out['inputs']) == 1
    with pytest.raises(ValueError, match='same size'):
        pre(dict(inputs=[batch[0], batch[0, :, :4]]))


def test_data_samples_state_and_copies():
    pre = SelfSupPreprocessor(MEAN, STD, batch_augments=ISIF)
    bare = [DataSample(metainfo=dict(sample_idx=i)) for i in range(2)]
    out = pre(dict(inputs=torch.zeros(2, 3, 4, 4, dtype=torch.uint8), data_samples=bare))
    assert out['data_samples'] is bare  # nothing to move
    labelled = [DataSample().set_gt_label(1), DataSample().set_gt_label(2)]
    out = pre(dict(inputs=torch.zeros(2, 3, 4, 4, dtype=torch.uint8), data_samples=labelled))
    assert [int(s.gt_label) for s in out['data_samples']] == [1, 2]
    assert pre.state_dict() == {}  # statistics are not checkpointed
    pre._graphs['dummy'] = object()
    assert len(copy.deepcopy(pre)._graphs) == 0  # e.g. EMA copies of the model
    with pytest.raises(TypeError, match='inputs'):
        pre(dict(inputs=[]))


def test_device_dataset_to_preprocessor():
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)

    class Source(InMemoryDataset):

        def load_arrays(self):
            return images.permute(0, 2, 3, 1).numpy(), np.zeros(6, np.int64)

    ds = Source(device='cpu')
    batch = next(iter(DataLoader(ds, batch_size=4, sampler=[5, 1, 2, 0],
                                 collate_fn=device_collate)))
    pre = SelfSupPreprocessor(MEAN, STD, batch_augments=ISIF)
    close(pre(batch)['inputs'][0], reference(images[[5, 1, 2, 0]]))
    views = pre(batch, training=True)['inputs']
    assert len(views) == 2 and views[0].shape == (4, 3, 8, 8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_graph_replay_matches_eager_and_stays_random():
    batch = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8, device='cuda')
    fixed = [dict(type='BatchHorizontalFlip', p=1.0), dict(type='BatchRandomGrayscale', p=1.0)]
    graphed = SelfSupPreprocessor(MEAN, STD, batch_augments=fixed).cuda()
    eager = SelfSupPreprocessor(MEAN, STD, batch_augments=fixed, cuda_graph=False).cuda()
    for _ in range(2):
        close(graphed(dict(inputs=batch), True)['inputs'][1],
              eager(dict(inputs=batch), True)['inputs'][1])
    pre = SelfSupPreprocessor(MEAN, STD, batch_augments=ISIF).cuda()
    a = pre(dict(inputs=batch), True)['inputs'][0]
    b = pre(dict(inputs=batch), True)['inputs'][0]
    assert len(pre._graphs) == 1 and (a - b).abs().mean() > 0.1
    last = pre(dict(inputs=batch[:4]), True)['inputs']  # a smaller last batch: its own graph
    assert len(pre._graphs) == 2 and last[0].shape == (4, 3, 8, 8)
