"""Class filters (unseen-class splits) and label subsets from an index file."""
import pytest
from mmengine.registry import init_default_scope

from selfemb.datasets import FashionMNIST, read_index_file
from selfemb.registry import DATASETS


def test_filter_cfg_keeps_only_the_given_classes(tiny_fmnist):
    ds = FashionMNIST(str(tiny_fmnist), split='test', filter_cfg=dict(classes=[5, 6, 7, 8, 9]))
    labels = ds.get_gt_labels()
    assert sorted(set(labels.tolist())) == [5, 6, 7, 8, 9] and len(ds) == 15
    assert len(ds.get_images()) == 15
    with pytest.raises(ValueError, match='unknown filter_cfg keys'):
        FashionMNIST(str(tiny_fmnist), filter_cfg=dict(labels=[1]))
    with pytest.raises(ValueError, match='no samples'):
        FashionMNIST(str(tiny_fmnist), filter_cfg=dict(classes=[42]))


def test_subset_from_file(tiny_fmnist, tmp_path):
    init_default_scope('selfemb')
    index_file = tmp_path / 'sub.txt'
    index_file.write_text('# 3 rows\n3\n0\n\n10\n')
    assert read_index_file(str(index_file)) == [3, 0, 10]
    ds = DATASETS.build(dict(type='FashionMNIST', data_root=str(tiny_fmnist),
                             filter_cfg=dict(index_file=str(index_file))))
    assert isinstance(ds, FashionMNIST)
    assert ds.get_gt_labels().tolist() == [3, 0, 0]
    index_file.write_text('1\n999\n')
    with pytest.raises(ValueError, match='outside FashionMNIST'):
        DATASETS.build(dict(type='FashionMNIST', data_root=str(tiny_fmnist),
                            filter_cfg=dict(index_file=str(index_file))))
    index_file.write_text('1\nx\n')
    with pytest.raises(ValueError, match='sub.txt:2'):
        read_index_file(str(index_file))
    with pytest.raises(FileNotFoundError, match='make_semi_subsets'):
        read_index_file(str(tmp_path / 'none.txt'))


def test_index_file_after_the_class_filter_then_indices(tiny_fmnist, tmp_path):
    """The file's rows are positions after ``classes`` / ``long_tail``, in file order;
    ``indices`` then select from the rows it keeps."""
    init_default_scope('selfemb')
    index_file = tmp_path / 'sub.txt'
    index_file.write_text('4\n0\n2\n1\n')
    source = dict(type='FashionMNIST', data_root=str(tiny_fmnist), split='test',
                  filter_cfg=dict(classes=[1, 2], index_file=str(index_file)))
    classes_only = FashionMNIST(str(tiny_fmnist), 'test', filter_cfg=dict(classes=[1, 2]))
    rows = classes_only.get_image_rows()[[4, 0, 2, 1]].tolist()  # rows of the full split
    assert DATASETS.build(source).get_image_rows().tolist() == rows
    assert DATASETS.build(dict(source, indices=3)).get_image_rows().tolist() == rows[:3]
    assert DATASETS.build(dict(source, indices=[3, 0])).get_image_rows().tolist() == [
        rows[3], rows[0]]
    # earlier configs' wrapper builds the same flat source
    old = DATASETS.build(dict(type='SubsetFromFile', index_file=str(index_file),
                              dataset=dict(source, filter_cfg=dict(classes=[1, 2]))))
    assert isinstance(old, FashionMNIST) and old.get_image_rows().tolist() == rows


def test_unseen_class_config_splits_the_classes(tiny_fmnist):
    from pathlib import Path

    from mmengine.config import Config
    root = Path(__file__).resolve().parents[2]
    cfg = Config.fromfile(root / 'configs/isif/r18_fmnist_unseen.py')
    init_default_scope('selfemb')
    for key, classes in (('train_dataloader', {0, 1, 2, 3, 4}),
                         ('knn_train_dataloader', {0, 1, 2, 3, 4}),
                         ('knn_val_dataloader', {0, 1, 2, 3, 4}),
                         ('recall_dataloader', {5, 6, 7, 8, 9})):
        source = dict(cfg[key].dataset, data_root=str(tiny_fmnist))
        assert set(DATASETS.build(source).get_gt_labels().tolist()) == classes, key
