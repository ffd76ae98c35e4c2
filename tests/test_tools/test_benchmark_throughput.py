"""tools/benchmark.py CONFIG: end to end through the Runner loop vs the plain loops, with
units in the JSON keys, ratios that are the quotients of the reported rates, and the
Runner's hooks really run in the timed iterations."""
import json
import sys

import pytest

from tests.test_tools.bench_loader import ROOT, benchmark

VARIANT_FIELDS = ('ms_per_step', 'ms_per_step_min', 'ms_per_step_max', 'ms_per_step_repeats',
                  'images_per_s', 'views_per_s', 'gpu_busy_ms_per_step', 'host_ms_per_step')


def tiny(data_root, *options: str) -> list:
    """--cfg-options: the tiny data set, a narrow ResNet-18 (8 base channels) so a step
    takes milliseconds, kNN k within the set."""
    loaders = ('train_dataloader', 'knn_train_dataloader', 'knn_val_dataloader')
    return ['--cfg-options', *[f'{loader}.dataset.data_root={data_root}' for loader in loaders],
            'model.backbone.base_channels=8', 'model.backbone.stem_channels=8',
            'model.neck.in_channels=64', 'custom_hooks.knn.k=5', *options]


def run(capsys, monkeypatch, *argv):
    monkeypatch.setattr(sys, 'argv', ['benchmark.py', *argv])
    benchmark.main()
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1]), out[:-1]


def test_isif_end_to_end_through_the_runner_and_plain_baselines(capsys, monkeypatch, tmp_path,
                                                                tiny_fmnist):
    warmup, iters, repeats = 1, 1, 3
    result, table = run(
        capsys, monkeypatch, str(ROOT / 'configs/isif/r18_fmnist.py'), '--warmup', str(warmup),
        '--iters', str(iters), '--repeats', str(repeats), '--work-dir', str(tmp_path / 'run'),
        '--out', str(tmp_path / 'result.json'),
        *tiny(tiny_fmnist, 'train_dataloader.batch_size=4', 'default_hooks.logger.interval=1'))
    assert json.loads((tmp_path / 'result.json').read_text()) == result
    assert result['images_per_step'] == 4 and result['views_per_step'] == 8  # two views
    for variant in ('end_to_end', 'plain_eager'):
        ms = result[f'{variant}_ms_per_step']
        assert len(result[f'{variant}_ms_per_step_repeats']) == repeats
        assert result[f'{variant}_ms_per_step_min'] <= ms <= result[f'{variant}_ms_per_step_max']
        assert result[f'{variant}_images_per_s'] == pytest.approx(4000 / ms, rel=1e-3)
        assert result[f'{variant}_views_per_s'] == pytest.approx(8000 / ms, rel=1e-3)
        assert result[f'{variant}_gpu_busy_ms_per_step'] is None  # CPU
        assert result[f'{variant}_host_ms_per_step'] == ms  # CPU: the host does it all
    # CPU: no graph, said so
    assert all(result[f'plain_graphed_{f}'] is None for f in VARIANT_FIELDS)
    assert 'CUDA' in result['plain_graphed_reason'] and result['ratio_to_plain_graphed'] is None
    assert result['ratio_to_plain_eager'] == round(
        result['end_to_end_views_per_s'] / result['plain_eager_views_per_s'], 4)
    assert result['ratio_to_plain_eager'] == pytest.approx(
        result['end_to_end_images_per_s'] / result['plain_eager_images_per_s'], rel=1e-3)
    # the Runner trained warmup + timed iterations with its hooks; saving and kNN deferred
    timed = warmup + iters * repeats
    assert result['end_to_end_runner_iters'] == result['end_to_end_loss_updates'] == timed
    for hook in ('LoggerHook', 'ParamSchedulerHook', 'MemoryInitHook', 'IterTimerHook'):
        assert hook in result['end_to_end_hooks']
    assert [p.split()[0] for p in result['end_to_end_pushed_beyond_window']] == [
        'SafeCheckpointHook', 'KNNEvalHook']
    assert result['end_to_end_work_dir'] == str(tmp_path / 'run')
    assert result['end_to_end_cuda_graph'] is None  # not asked for
    logs = list((tmp_path / 'run').glob('*/*.log'))
    assert len(logs) == 1 and logs[0].read_text().count('Epoch(train)') == timed
    assert not list((tmp_path / 'run').glob('*.pth'))
    assert result['cudnn_benchmark'] is True  # the config's env_cfg
    assert table[-3].startswith('end_to_end') and 'not run' in table[-1]



def test_a_graphed_end_to_end_figure_counts_its_captures_and_replays(capsys, monkeypatch,
                                                                     tiny_fmnist):
    """With ``cuda_graph.enable`` the record says how often the whole-step graph captured and
    replayed (on the CPU the static step runs uncaptured: ``captured_on_cuda`` is false)."""
    result, _ = run(capsys, monkeypatch, str(ROOT / 'configs/isif/r18_fmnist.py'), '--warmup',
                    '2', '--iters', '1', '--repeats', '2',
                    *tiny(tiny_fmnist, 'train_dataloader.batch_size=4', 'cuda_graph.enable=True',
                          'cuda_graph.warmup=1', 'optim_wrapper.optimizer.fused=True'))
    assert 'CudaGraphHook' in result['end_to_end_hooks']
    # 4 Runner iterations: 1 eager warm-up, 1 capture (which runs the step), 2 replays
    assert result['end_to_end_runner_iters'] == 4
    assert result['end_to_end_cuda_graph'] == dict(captures=1, replays=2,
                                                   captured_on_cuda=False)

def test_runner_too_short_for_the_windows_is_an_error(capsys, monkeypatch, tiny_fmnist):
    with pytest.raises(SystemExit, match='trained 4 iterations, the benchmark needs 31'):
        run(capsys, monkeypatch, str(ROOT / 'configs/isif/r18_fmnist.py'), '--warmup', '1',
            '--iters', '10', '--repeats', '3',
            *tiny(tiny_fmnist, 'train_dataloader.batch_size=2', 'train_cfg.max_epochs=2',
                  'train_dataloader.dataset.indices=4'))


def test_bad_step_counts_are_named(capsys, monkeypatch):
    with pytest.raises(SystemExit, match='--warmup >= 1'):
        run(capsys, monkeypatch, str(ROOT / 'configs/isif/r18_fmnist.py'), '--warmup', '0')
