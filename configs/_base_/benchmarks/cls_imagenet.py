# ImageNet from list files (`relative/path.JPEG label`) with labels for supervised heads:
# RandomResizedCrop 224 + flip for training, short side 256 + centre crop 224 for testing;
# both resizes with Pillow's bilinear (backend='pillow'), as mmselfsup's benchmark pipelines.
dataset_type = 'ImageList'
data_root = 'data/imagenet'
num_classes = 1000

data_preprocessor = dict(
    type='mmpretrain.ClsDataPreprocessor',
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)  # LoadImageFromFile gives BGR

train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.RandomResizedCrop', scale=224, backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.PackInputs'),
]
test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='mmpretrain.CenterCrop', crop_size=224),
    dict(type='mmpretrain.PackInputs'),
]


def _loader(ann_file, img_dir, pipeline, shuffle, batch_size=32, workers=8):
    return dict(
        batch_size=batch_size,  # per GPU: 8 GPUs x 32 = 256
        num_workers=workers,
        persistent_workers=False,
        worker_init_fn=dict(type='selfemb.seed_worker_from_torch'),
        sampler=dict(type='DefaultSampler', shuffle=shuffle),
        collate_fn=dict(type='pseudo_collate'),
        dataset=dict(type=dataset_type, data_root=data_root, ann_file=ann_file,
                     data_prefix=dict(img_path=img_dir), pipeline=pipeline))


train_dataloader = _loader('meta/train.txt', 'train', train_pipeline, True)
val_dataloader = _loader('meta/val.txt', 'val', test_pipeline, False)
test_dataloader = val_dataloader
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
val_cfg = dict()
test_cfg = dict()
