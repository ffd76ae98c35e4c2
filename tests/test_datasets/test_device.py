import numpy as np
import pytest
import torch
from mmengine.dataset import DefaultSampler
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader, SequentialSampler

from selfemb.datasets.base import InMemoryDataset
from selfemb.datasets.device import DeviceDataset, device_collate
from selfemb.models.utils.samples import IndexedSamples, sample_indices
from selfemb.registry import DATASETS, FUNCTIONS

N, H, W = 10, 4, 5


@DATASETS.register_module(name='TinyDeviceSource', force=True)
class TinySource(InMemoryDataset):
    """Image i is filled with 20 * i + channel, label i % 3."""

    METAINFO = dict(classes=('a', 'b', 'c'))

    def load_arrays(self):
        imgs = np.zeros((N, H, W, 3), np.uint8)
        imgs += (20 * np.arange(N, dtype=np.uint8))[:, None, None, None]
        imgs += np.arange(3, dtype=np.uint8)
        return imgs, np.arange(N) % 3


def expected(rows):
    rows = torch.as_tensor(rows)
    return (20 * rows.view(-1, 1, 1, 1) + torch.arange(3).view(1, 3, 1, 1)).expand(
        len(rows), 3, H, W).to(torch.uint8)


def test_wraps_source_and_serves_items():
    ds = DATASETS.build(dict(type='TinyDeviceSource', device='cpu'))
    assert len(ds) == N and ds.metainfo['classes'] == ('a', 'b', 'c')
    np.testing.assert_array_equal(ds.get_gt_labels(), np.arange(N) % 3)
    ds.full_init()
    item = ds[3]
    assert torch.equal(item['inputs'], expected([3])[0])
    assert isinstance(item['data_samples'], DataSample) and item['data_samples'].sample_idx == 3
    assert ds[-1]['data_samples'].sample_idx == N - 1
    auto = TinySource(device='auto')
    assert auto.images.device.type == ('cuda' if torch.cuda.is_available() else 'cpu')
    assert FUNCTIONS.get('device_collate') is device_collate
    assert DATASETS.get('DeviceDataset') is DeviceDataset
    # the former wrapper's spelling returns the source itself, device-resident
    alias = DATASETS.build(dict(type='DeviceDataset', device='cpu',
                                dataset=dict(type='TinyDeviceSource')))
    assert isinstance(alias, TinySource) and alias.device == 'cpu'
    assert torch.equal(alias[3]['inputs'], item['inputs'])


def test_dataloader_yields_whole_device_batches():
    ds = TinySource(device='cpu')
    order = [7, 2, 9, 0, 5, 1, 8, 3, 6, 4]
    loader = DataLoader(ds, batch_size=4, sampler=order, collate_fn=device_collate)
    batches = list(loader)
    assert [len(b['data_samples']) for b in batches] == [4, 4, 2]
    for b, rows in zip(batches, (order[:4], order[4:8], order[8:])):
        assert b['inputs'].dtype == torch.uint8 and b['inputs'].shape == (len(rows), 3, H, W)
        assert torch.equal(b['inputs'], expected(rows))
        assert [s.sample_idx for s in b['data_samples']] == rows
    # without batched fetching torch collates single items: falls back to pseudo_collate
    single = next(iter(DataLoader(ds, batch_size=None, sampler=SequentialSampler(ds))))
    assert single['data_samples'].sample_idx == 0
    fallback = device_collate([ds[1], ds[2]])
    assert torch.equal(torch.stack(fallback['inputs']), expected([1, 2]))
    assert [s.sample_idx for s in fallback['data_samples']] == [1, 2]


def test_subset_keeps_index_order_and_sample_idx():
    ds = TinySource(indices=[4, 6, 8], device='cpu')
    assert len(ds) == 3
    b = ds.__getitems__([2, 0])
    assert torch.equal(b['inputs'], expected([8, 4]))
    assert [s.sample_idx for s in b['data_samples']] == [2, 0]
    with pytest.raises(IndexError, match=r'\[0, 3\)'):
        ds.__getitems__([1, 3])


def test_default_sampler_shards_in_a_simulated_world(monkeypatch):
    ds = TinySource(device='cpu')
    seen = []
    for rank in range(2):
        monkeypatch.setattr('mmengine.dataset.sampler.get_dist_info', lambda r=rank: (r, 2))
        sampler = DefaultSampler(ds, shuffle=True, seed=3)
        loader = DataLoader(ds, batch_size=4, sampler=sampler, collate_fn=device_collate)
        idx = []
        for b in loader:
            rows = [s.sample_idx for s in b['data_samples']]
            assert torch.equal(b['inputs'], expected(rows))
            idx += rows
        assert idx == list(sampler) and len(idx) == 5
        seen.append(set(idx))
    assert not seen[0] & seen[1] and seen[0] | seen[1] == set(range(N))


def test_errors():
    ds = TinySource(device='cpu')
    loader = DataLoader(ds, batch_size=4, num_workers=1, collate_fn=device_collate)
    with pytest.raises(RuntimeError, match='num_workers=0'):
        next(iter(loader))
    with pytest.raises(TypeError, match='get_images'):
        DeviceDataset(list(range(5)))


def test_batches_carry_their_indices_as_a_tensor():
    ds = TinySource(device='cpu')
    batch = ds.__getitems__([7, 2, 9])
    samples = batch['data_samples']
    assert isinstance(samples, IndexedSamples) and isinstance(samples, list)
    assert samples.indices.dtype == torch.long and samples.indices.tolist() == [7, 2, 9]
    assert [s.sample_idx for s in samples] == [7, 2, 9]  # the samples stay for hooks
    assert device_collate(batch) is batch
    # the step reads the carried tensor, not the samples
    samples.indices = torch.tensor([1, 1, 1])
    assert sample_indices(samples, torch.device('cpu')).tolist() == [1, 1, 1]
    assert sample_indices(list(samples), torch.device('cpu')).tolist() == [7, 2, 9]
    # per-item batches: indexed when every sample has its sample_idx
    fallback = device_collate([ds[4], ds[0]])['data_samples']
    assert isinstance(fallback, IndexedSamples) and fallback.indices.tolist() == [4, 0]
    with pytest.raises(ValueError, match=r'int64 tensor of shape \(2,\)'):
        IndexedSamples([ds[4], ds[0]], indices=torch.tensor([4]))
