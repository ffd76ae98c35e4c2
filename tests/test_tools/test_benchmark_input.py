"""tools/benchmark.py --input times data-only, model-only and end-to-end images/s of
image-file configs side by side, with the worker count, and ends with JSON."""
import json
from pathlib import Path

import pytest

from tests.tool_loader import load_tool

ROOT = Path(__file__).resolve().parents[2]


def load(name: str, path: Path):
    return load_tool(path, name)


@pytest.fixture(scope='module')
def jpeg_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('jpegs')
    load('make_synthetic_jpegs', ROOT / 'tools/dataset_converters/make_synthetic_jpegs.py').main(
        [str(root), '--classes', '2', '--train-per-class', '4', '--val-per-class', '1'])
    return root


SMALL = ['model.backbone.depth=18', 'model.neck.in_channels=512', 'model.group_head.num_groups=2',
         'model.instance_head.num_negatives=4']


def run(configs, jpeg_root, capsys, *options) -> dict:
    tool = load('benchmark_input', ROOT / 'tools/analysis/benchmark_input.py')
    tool.main(['--input', *configs, '--data-root', str(jpeg_root), '--workers', '0',
               '--batch-size', '2', '--iters', '1', '--warmup', '0', '--repeats', '2',
               '--cfg-options', *SMALL, *options])
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def check(result: dict, workers: int) -> None:
    assert result['workers'] == workers and result['batch_size'] == 2
    for key in ('data_only_img_s', 'model_only_img_s', 'end_to_end_img_s'):
        rate = result[key]
        assert 0 < rate['min'] <= rate['median'] <= rate['max']
    assert result['end_to_end_over_model_only'] == pytest.approx(
        result['end_to_end_img_s']['median'] / result['model_only_img_s']['median'], abs=2e-3)


def test_gpu_path(jpeg_root, capsys):
    out = run(['configs/cld/r50_in100_gpu.py'], jpeg_root, capsys,
              'data_preprocessor.crop_size=32', 'data_preprocessor.test_resize=36')
    (result, ) = out['results']
    check(result, 0)
    assert result['preprocessor'] == 'EncodedImagePreprocessor'
    assert result['decoder'] == 'torchvision' and result['views'] == 2


@pytest.mark.slow
def test_cpu_and_gpu_side_by_side(jpeg_root, capsys):
    out = run(['configs/cld/r50_in100.py', 'configs/cld/r50_in100_gpu.py'], jpeg_root, capsys)
    cpu, gpu = out['results']
    check(cpu, 0)
    check(gpu, 0)
    assert cpu['decoder'] == 'cpu workers' and gpu['decoder'] == 'torchvision'
