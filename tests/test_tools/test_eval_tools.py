"""The evaluation tools end to end on tiny inputs: semi subsets, Recall@K, VOC07 SVM,
t-SNE and the kNN curve."""
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from selfemb.datasets.subset import class_balanced_subset
from tests.test_datasets.test_voc07 import write_voc07

ROOT = Path(__file__).resolve().parents[2]


def run_tool(script: str, *args, capsys) -> str:
    argv = sys.argv
    sys.argv = [script, *map(str, args)]
    try:
        runpy.run_path(str(ROOT / script), run_name='__main__')
    finally:
        sys.argv = argv
    return capsys.readouterr().out


def test_class_balanced_subset_is_balanced_and_deterministic():
    labels = np.repeat(np.arange(4), [100, 50, 200, 9])
    idx = class_balanced_subset(labels, 10, seed=1)
    assert np.bincount(labels[idx]).tolist() == [10, 5, 20, 1]  # at least one per class
    assert (idx == np.sort(idx)).all() and len(set(idx.tolist())) == len(idx)
    assert (class_balanced_subset(labels, 10, seed=1) == idx).all()
    assert not np.array_equal(class_balanced_subset(labels, 10, seed=2), idx)
    with pytest.raises(ValueError, match='percent'):
        class_balanced_subset(labels, 0)


def test_make_semi_subsets_from_config(tiny_fmnist, tmp_path, capsys):
    out = run_tool('tools/benchmarks/classification/make_semi_subsets.py',
                   'configs/benchmarks/semi/r18_fmnist_10pct.py', '--percent', 10, 50,
                   '--out', tmp_path, '--cfg-options',
                   f'train_dataloader.dataset.data_root={tiny_fmnist}',
                   'train_dataloader.dataset.indices=3', capsys=capsys)  # ignored by the tool
    assert 'train_50pct_seed0.txt' in out
    idx = np.loadtxt(tmp_path / 'train_50pct_seed0.txt', dtype=int)
    labels = np.arange(64) % 10  # tiny_fmnist: 7 of classes 0-3, 6 of classes 4-9
    assert np.bincount(labels[idx]).tolist() == [4] * 4 + [3] * 6  # 3.5 rounds up to 4
    assert len(np.loadtxt(tmp_path / 'train_10pct_seed0.txt', dtype=int)) == 10

    # the config reads the file back as its filter_cfg.index_file
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from selfemb.registry import DATASETS
    cfg = Config.fromfile(ROOT / 'configs/benchmarks/semi/r18_fmnist_10pct.py')
    init_default_scope('selfemb')
    source = dict(cfg.train_dataloader.dataset, data_root=str(tiny_fmnist),
                  filter_cfg=dict(index_file=str(tmp_path / 'train_50pct_seed0.txt')))
    assert DATASETS.build(source).get_gt_labels().tolist() == labels[idx].tolist()


def test_recall_at_k_tool_from_npy_and_from_checkpoint(tiny_fmnist, tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 5)
    feats = (np.eye(4)[labels] * 5 + 0.1 * rng.standard_normal((15, 4))).astype(np.float32)
    np.save(tmp_path / 'f.npy', feats)
    np.save(tmp_path / 'l.npy', labels)
    out = run_tool('tools/benchmarks/recall_at_k.py', '--features', tmp_path / 'f.npy',
                   '--labels', tmp_path / 'l.npy', '--nredo', 5, capsys=capsys)
    result = json.loads(out.strip().splitlines()[-1])
    assert result['R@1'] == 100.0 and result['NMI'] == pytest.approx(100.0)

    from mmengine.config import Config

    from selfemb.apis import build_model_from_cfg
    config = 'configs/isif/r18_fmnist_unseen.py'
    model = build_model_from_cfg(Config.fromfile(ROOT / config))
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), tmp_path / 'isif.pth')
    out = run_tool('tools/benchmarks/recall_at_k.py', config, tmp_path / 'isif.pth',
                   '--cfg-options', f'recall_dataloader.dataset.data_root={tiny_fmnist}',
                   capsys=capsys)
    result = json.loads(out.strip().splitlines()[-1])
    assert set(result) == {'R@1', 'R@2', 'R@4', 'R@8', 'NMI'}
    assert '15 images of 5 classes, 128-d' in out  # tiny test split, classes 5-9 only


def test_svm_tool_full_and_low_shot(tmp_path, capsys):
    voc = tmp_path / 'VOC2007'
    # seed 2: every class has an absent (-1) trainval row, as low-shot sampling needs
    train_t = write_voc07(voc, 'trainval', ids=[f'{i:06d}' for i in range(12)], seed=2)
    test_t = write_voc07(voc, 'test', ids=[f'{i:06d}' for i in range(100, 110)], seed=1)
    feats = tmp_path / 'feats'
    feats.mkdir()
    rng = np.random.default_rng(0)
    # features that encode the labels: class c present <-> coordinate c large
    np.save(feats / 'trainval_res5.npy', (train_t == 1) * 3 + rng.random((12, 20)))
    np.save(feats / 'test_res5.npy', (test_t == 1) * 3 + rng.random((10, 20)))
    out = run_tool('tools/benchmarks/svm_voc07/train_svm.py', feats,
                   '--voc-root', voc, '--costs', 0.1, 1, 10, '--folds', 2, capsys=capsys)
    result = json.loads(out.strip().splitlines()[-1])
    assert len(result['ap']) == 20 and result['mAP'] > 80  # 12 images: not all separable
    out = run_tool('tools/benchmarks/svm_voc07/train_svm.py', feats, '--layer', 'res5',
                   '--voc-root', voc, '--costs', 1, 10, '--low-shot', 1, '--num-samples', 2,
                   '--neg-ratio', 1, capsys=capsys)
    result = json.loads(out.strip().splitlines()[-1])
    assert set(result['low_shot']) == {'1'} and result['low_shot']['1']['cost'] in (1, 10)
    assert len(result['low_shot']['1']['mAPs']) == 2
    with pytest.raises(FileNotFoundError, match='test_conv4.npy|trainval_conv4.npy'):
        run_tool('tools/benchmarks/svm_voc07/train_svm.py', feats, '--layer', 'conv4',
                 '--voc-root', voc, capsys=capsys)


def test_tsne_tool_writes_png(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 12)
    np.save(tmp_path / 'f.npy', rng.standard_normal((36, 8)).astype(np.float32) + labels[:, None])
    np.save(tmp_path / 'l.npy', labels)
    run_tool('tools/analysis/visualize_tsne.py', '--features', tmp_path / 'f.npy', '--labels',
             tmp_path / 'l.npy', '--out', tmp_path / 'tsne.png', capsys=capsys)
    assert (tmp_path / 'tsne.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert np.load(tmp_path / 'tsne.npy').shape == (36, 2)


def test_knn_curve_tool_merges_runs_and_writes_png(tmp_path, capsys):
    work = tmp_path / 'isif_run'
    for stamp, records in (('20261123_010000', [dict(loss=3.0, step=10), {
            'knn/top1': 40.0, 'knn/top5': 80.0, 'step': 1}, {'knn/top1': 50.0, 'step': 2}]),
                           ('20261123_020000', [{'knn/top1': 55.0, 'step': 2},
                                                {'knn/top1': 60.0, 'step': 3}])):
        (work / stamp / 'vis_data').mkdir(parents=True)
        (work / stamp / 'vis_data' / 'scalars.json').write_text(
            ''.join(json.dumps(r) + '\n' for r in records))
    out = run_tool('tools/analysis/plot_knn_curve.py', work, capsys=capsys)
    assert 'isif_run: 3 evaluations, best 60.00 at epoch 3' in out
    assert (work / 'knn_curve.png').read_bytes()[:4] == b'\x89PNG'
    with pytest.raises(ValueError, match="no 'knn/top9'"):
        run_tool('tools/analysis/plot_knn_curve.py', work, '--key', 'knn/top9', capsys=capsys)
    other = tmp_path / 'npid_run' / 'stamp' / 'vis_data'
    other.mkdir(parents=True)
    (other / 'scalars.json').write_text(json.dumps({'knn/top1': 45.5, 'step': 3}) + '\n')
    out = run_tool('tools/analysis/plot_knn_curve.py', work, tmp_path / 'npid_run',
                   '--table', 2, 3, capsys=capsys)
    assert out.strip().splitlines()[-4:] == [
        '| epoch | isif_run | npid_run |', '|---|---|---|', '| 2 | 55.00 | — |',
        '| 3 | 60.00 | 45.50 |']


def test_model_selection_score_tool_from_checkpoint(tiny_fmnist, tmp_path, capsys):
    from mmengine.config import Config

    from selfemb.apis import build_model_from_cfg
    config = 'configs/isif/r18_fmnist.py'
    model = build_model_from_cfg(Config.fromfile(ROOT / config))
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), tmp_path / 'isif.pth')
    out = run_tool('tools/analysis/model_selection_score.py', config, tmp_path / 'isif.pth',
                   '--k', 4, '--max-samples', 20, '--cfg-options',
                   f'train_dataloader.dataset.data_root={tiny_fmnist}',
                   'train_dataloader.batch_size=8', capsys=capsys)
    result = json.loads(out.strip().splitlines()[-1])
    assert result['num_samples'] == 20 and result['k'] == 4
    assert result['score'] == pytest.approx(result['nmi'] * result['retrieval'])


def test_recall_at_k_tool_on_the_cub_unseen_config(tmp_path, capsys):
    from mmengine.config import Config

    from selfemb.apis import build_model_from_cfg
    from tests.test_configs.tiny_data import write_cub200
    root = write_cub200(tmp_path / 'cub')
    config = 'configs/isif/r50_cub200_unseen.py'
    cfg = Config.fromfile(ROOT / config)
    cfg.merge_from_dict({'model.backbone.init_cfg': None})
    torch.save(dict(state_dict=build_model_from_cfg(cfg).state_dict(), meta=dict()),
               tmp_path / 'isif.pth')
    out = run_tool('tools/benchmarks/recall_at_k.py', config, tmp_path / 'isif.pth',
                   '--cfg-options', 'model.backbone.init_cfg=None',
                   f'recall_dataloader.dataset.data_root={root}',
                   'recall_dataloader.num_workers=0', capsys=capsys)
    result = json.loads(out.strip().splitlines()[-1])
    assert set(result) == {'R@1', 'R@2', 'R@4', 'R@8', 'NMI'}
    assert '12 images of 3 classes, 128-d' in out  # the unseen classes 101-200 only


def test_svm_voc07_extraction_and_svm_end_to_end(tmp_path, capsys):
    """configs/benchmarks/svm_voc07/r50_voc07.py + extract_features.py --pool-kernel 6 ->
    8192-d res5 features named as train_svm.py reads them -> the SVM benchmark."""
    from mmengine.config import Config

    from selfemb.apis import build_model_from_cfg
    from tests.test_tools.tiny_voc import write_voc07_classification
    voc = write_voc07_classification(tmp_path, n_trainval=20, n_test=20)
    config = 'configs/benchmarks/svm_voc07/r50_voc07.py'
    torch.manual_seed(0)
    model = build_model_from_cfg(Config.fromfile(ROOT / config))
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), tmp_path / 'r50.pth')
    feats = tmp_path / 'feats'
    loaders = ('trainval_dataloader', 'test_dataloader')
    run_tool('tools/extract_features.py', config, tmp_path / 'r50.pth', '--out', feats,
             '--layers', 'res5', '--pool-kernel', 6, '--dataloader', *loaders,
             '--cfg-options', *[f'{k}.{f}={v}' for k in loaders for f, v in (
                 ('dataset.data_root', voc), ('num_workers', 0), ('batch_size', 10))],
             capsys=capsys)
    assert np.load(feats / 'trainval_res5.npy').shape == (20, 8192)  # 2048 x 2 x 2
    assert np.load(feats / 'test_res5.npy').shape == (20, 8192)
    out = run_tool('tools/benchmarks/svm_voc07/train_svm.py', feats, '--voc-root', voc,
                   '--costs', 1, 10, '--folds', 2, capsys=capsys)
    result = json.loads(out.strip().splitlines()[-1])
    assert len(result['ap']) == 20 and 0 <= result['mAP'] <= 100 and result['layer'] == 'res5'


def test_pool_kernel_is_avg_pool_stride_one():
    from selfemb.evaluation.features import pool_feature
    x = torch.randn(2, 3, 7, 7)
    out = pool_feature(x, pool_kernel=6)
    ref = torch.stack([x[..., i:i + 6, j:j + 6].mean((-1, -2)) for i in (0, 1) for j in (0, 1)],
                      -1)  # (B, C, 4) channel-major as flatten(1) of (B, C, 2, 2)
    assert out.shape == (2, 12) and torch.allclose(out, ref.flatten(1), atol=1e-6)
    with pytest.raises(ValueError, match='pool_kernel 8 exceeds'):
        pool_feature(x, pool_kernel=8)
