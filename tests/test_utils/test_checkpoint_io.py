"""selfemb.utils.checkpoint: weights-only round trip of real Runner checkpoints, exact
resume from a moved work dir, refusal of untrusted pickles, clear errors for non-checkpoints,
relative ``last_checkpoint`` and stale temporary files."""
import copy
import math
import os
import pickle
import random
import shutil
import uuid
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

import selfemb.engine.hooks.safe_checkpoint_hook  # noqa: F401  (registers the hook)
from selfemb.utils import checkpoint as ckpt
from selfemb.utils import checkpoint_codec as codec
from selfemb.utils.checkpoint import (
    CheckpointFormatError,
    UntrustedCheckpointError,
    decode_checkpoint,
    encode_checkpoint,
    load_local_checkpoint,
    remove_stale_temp_files,
    resolve_last_checkpoint,
)
from selfemb.version import __version__


class ToyData(Dataset):
    """Eight samples whose loading draws from Python's and numpy's generators."""
    metainfo = dict(classes=('a', 'b'), palette=[(0, 0, 0)])

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> dict:
        x = torch.full((4, ), i / 8) + 0.1 * np.random.rand() + 0.1 * random.random()
        return dict(inputs=x.float(), labels=torch.tensor([i % 2, 1 - i % 2]).float())


class Toy(BaseModel):
    """A linear layer with torch-generator noise on its input."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.fc(inputs + 0.1 * torch.randn_like(inputs))
        if mode == 'loss':
            return dict(loss=((out - labels)**2).mean())
        return out


class NumpyInfo(Hook):
    """Puts numpy values into the message hub's runtime info (saved with the checkpoint)."""

    def after_train_epoch(self, runner) -> None:
        runner.message_hub.update_info('np_scalar', np.float32(runner.epoch + 0.5))
        runner.message_hub.update_info('np_array', np.arange(3, dtype=np.int16) * runner.epoch)


class Capture(Hook):
    """Deep copies of each checkpoint after RandomStateHook (80), before encoding (90)."""
    priority = 85

    def __init__(self) -> None:
        self.saved = {}

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self.saved[f'epoch_{runner.epoch + 1}.pth'] = copy.deepcopy(checkpoint)


def tiny_runner(work_dir: Path, max_epochs: int, hooks=(), resume_from=None,
                runner_args: Optional[dict] = None, **checkpoint) -> Runner:
    """A Runner of :class:`Toy` with RandomStateHook and ``SafeCheckpointHook(interval=1,
    **checkpoint)``; ``runner_args`` adds / overrides Runner arguments."""
    torch.manual_seed(0)  # the same initial weights in every run
    return Runner(**{**dict(
        model=Toy(), work_dir=str(work_dir), experiment_name=uuid.uuid4().hex,
        default_scope='selfemb', randomness=dict(seed=0),
        train_dataloader=dict(dataset=ToyData(), batch_size=2, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1], by_epoch=True, end=9),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                           checkpoint=dict(type='SafeCheckpointHook',
                                           **{'interval': 1, **checkpoint})),
        custom_hooks=[dict(type='RandomStateHook'), NumpyInfo(), *hooks],
        load_from=resume_from, resume=resume_from is not None), **(runner_args or {})})


def assert_same(a, b, path='checkpoint') -> None:
    """Equal values of exactly the same types (dtypes, numpy scalar types, containers)."""
    assert type(a) is type(b), f'{path}: {type(a)} vs {type(b)}'
    if isinstance(a, dict):
        assert list(a) == list(b), f'{path}: keys {list(a)} vs {list(b)}'
        for key in a:
            assert_same(a[key], b[key], f'{path}[{key!r}]')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f'{path}[{i}]')
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), path
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b), path
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in 'fc'), path
    elif isinstance(a, HistoryBuffer):
        state = [{k: v for k, v in vars(x).items() if k != 'statistics_methods'} for x in (a, b)]
        assert_same(*state, f'{path}.__dict__')
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), path
    else:
        assert a == b, f'{path}: {a!r} vs {b!r}'


def test_runner_checkpoint_round_trip_is_exact(tmp_path):
    capture = Capture()
    runner = tiny_runner(tmp_path, max_epochs=2, hooks=[capture])
    runner.train()
    for name, original in capture.saved.items():
        loaded = torch.load(tmp_path / name, map_location='cpu', weights_only=True)
        decoded = decode_checkpoint(loaded)
        identity = decoded['meta'].pop('selfemb')
        assert identity == dict(version=__version__, algorithm='Toy',
                                config=None, dataset_length=8)
        assert_same(original, decoded)
        decoded['meta']['selfemb'] = identity  # the registered loader gives the same
        assert_same(decoded, load_local_checkpoint(str(tmp_path / name)))
    info = decoded['message_hub']['runtime_info']
    assert type(info['np_scalar']) is np.float32 and info['np_array'].dtype == np.int16
    assert isinstance(decoded['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    numpy_state = decoded['random_states'][0]['numpy']
    assert isinstance(numpy_state, tuple) and numpy_state[1].dtype == np.uint32
    np.random.set_state(numpy_state)  # the restored state continues the same stream
    restored = np.random.rand(5)
    np.random.set_state(capture.saved['epoch_2.pth']['random_states'][0]['numpy'])
    assert np.array_equal(restored, np.random.rand(5))


def test_resume_from_a_moved_work_dir_is_exact(tmp_path):
    tiny_runner(tmp_path / 'full', max_epochs=2).train()
    tiny_runner(tmp_path / 'cut', max_epochs=1).train()
    assert (tmp_path / 'cut/last_checkpoint').read_text() == 'epoch_1.pth'
    shutil.move(tmp_path / 'cut', tmp_path / 'moved')
    resume_from = resolve_last_checkpoint(str(tmp_path / 'moved'))
    assert resume_from == str(tmp_path / 'moved/epoch_1.pth')
    tiny_runner(tmp_path / 'moved', max_epochs=2, resume_from=resume_from).train()
    full, resumed = (torch.load(tmp_path / d / 'epoch_2.pth', weights_only=True)
                     for d in ('full', 'moved'))
    assert_same(full['state_dict'], resumed['state_dict'])
    assert_same(full['optimizer'], resumed['optimizer'])
    assert not torch.equal(full['state_dict']['fc.weight'],
                           torch.load(tmp_path / 'full/epoch_1.pth',
                                      weights_only=True)['state_dict']['fc.weight'])


def test_encode_names_what_it_cannot_store():
    with pytest.raises(TypeError, match=r"checkpoint\['meta'\]\['hooks'\]\[1\]: builtins.object"):
        encode_checkpoint(dict(meta=dict(hooks=[1, object()])))
    with pytest.raises(TypeError, match=r"\['a'\]: numpy dtype object"):
        encode_checkpoint(dict(a=np.array([None, 1], dtype=object)))
    with pytest.raises(TypeError, match='reserved'):
        encode_checkpoint(dict(a={codec.MARK: 'ndarray'}))
    source = dict(a=np.zeros(2), b=[np.int64(3)])
    encoded = encode_checkpoint(source)  # the input is not modified
    assert type(source['a']) is np.ndarray and type(source['b'][0]) is np.int64
    assert encoded['a'][codec.MARK] == 'ndarray' and encoded['b'][0][codec.MARK] == 'numpy_scalar'


class Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f'open({str(self.marker)!r}, "w").write("ran")', )


def test_untrusted_pickle_is_refused_until_trusted(tmp_path, monkeypatch):
    monkeypatch.setenv(ckpt.TRUST_ENV, '0')
    marker, path = tmp_path / 'marker', tmp_path / 'evil.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(1)), meta=Evil(marker)), path)
    with pytest.raises(UntrustedCheckpointError) as err:
        load_local_checkpoint(str(path))
    assert isinstance(err.value, pickle.UnpicklingError) and not marker.exists()
    text = str(err.value)
    assert str(path) in text and 'it pickles the global exec' in text
    assert '--trust-checkpoint' in text and 'SELFEMB_TRUST_CHECKPOINTS=1' in text
    ckpt.trust_checkpoints()
    assert os.environ[ckpt.TRUST_ENV] == '1'
    assert torch.equal(load_local_checkpoint(str(path))['state_dict']['w'], torch.ones(1))
    assert marker.read_text() == 'ran'


@pytest.mark.parametrize('content,match', [
    (b'hello world\n', 'is not a PyTorch checkpoint'),
    (b'', r'is empty \(0 bytes\)'),
    ('truncated', 'is truncated or corrupt'),
])
def test_not_a_checkpoint(tmp_path, content, match):
    path = tmp_path / 'bad.pth'
    if content == 'truncated':
        torch.save(dict(w=torch.zeros(1000)), path)
        content = path.read_bytes()[:2000]
    path.write_bytes(content)
    with pytest.raises(CheckpointFormatError, match=match) as err:
        load_local_checkpoint(str(path))
    assert str(path) in str(err.value)


def test_resolve_last_checkpoint(tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    assert resolve_last_checkpoint(str(work)) is None
    (work / 'epoch_3.pth').write_bytes(b'x')
    (work / 'last_checkpoint').write_text('epoch_3.pth')
    assert resolve_last_checkpoint(str(work)) == str(work / 'epoch_3.pth')
    # an old absolute entry into another (the original) work dir: this dir's file
    (work / 'last_checkpoint').write_text(str(tmp_path / 'original/epoch_3.pth'))
    assert resolve_last_checkpoint(str(work)) == str(work / 'epoch_3.pth')
    (work / 'last_checkpoint').write_text(str(tmp_path / 'original/epoch_4.pth'))
    with pytest.raises(FileNotFoundError) as err:
        resolve_last_checkpoint(str(work))
    assert str(tmp_path / 'original/epoch_4.pth') in str(err.value)
    assert str(work) in str(err.value)
    (work / 'last_checkpoint').write_text('epoch_9.pth')
    with pytest.raises(FileNotFoundError, match='names epoch_9.pth'):
        resolve_last_checkpoint(str(work))


def test_interrupted_atomic_write_leaves_a_temp_file_that_is_removed(tmp_path, monkeypatch):
    left = []
    monkeypatch.setattr(ckpt.os, 'replace', lambda src, dst: left.append(src))  # killed here
    ckpt.atomic_write_bytes(b'data', tmp_path / 'epoch_1.pth')
    monkeypatch.undo()
    assert not (tmp_path / 'epoch_1.pth').exists() and Path(left[0]).exists()
    keep = ['epoch_1.pth.tmp', '.tmp-notes', 'x.tmp-epoch_1.pth.abcdefgh', '.tmp-a.pth.abc']
    for name in keep:
        (tmp_path / name).write_text('keep')
    assert remove_stale_temp_files(str(tmp_path)) == left
    assert sorted(os.listdir(tmp_path)) == sorted(keep)
    assert remove_stale_temp_files(str(tmp_path / 'missing')) == []


def test_strict_pretrained_follows_the_same_rule(tmp_path, monkeypatch):
    from selfemb.models.utils import StrictPretrained
    monkeypatch.setenv(ckpt.TRUST_ENV, '0')
    marker, path = tmp_path / 'marker', tmp_path / 'evil.pth'
    layer = nn.Linear(2, 2)
    torch.save(dict(state_dict=dict(layer.state_dict()), meta=Evil(marker)), path)
    with pytest.raises(UntrustedCheckpointError, match='--trust-checkpoint'):
        StrictPretrained(checkpoint=str(path))(nn.Linear(2, 2))
    assert not marker.exists()
    torch.save(encode_checkpoint(dict(state_dict=dict(layer.state_dict()),
                                      meta=dict(seed=np.int64(3)))), path)
    target = nn.Linear(2, 2)
    StrictPretrained(checkpoint=str(path))(target)
    assert torch.equal(target.weight, layer.weight)
