# ImageNet (or ImageNet-100) from a list file: `data_root/<ann_file>` lines are
# `relative/path.JPEG label` relative to `data_root/<img dir>` (see docs/data_preparation.md).
dataset_type = 'ImageList'
data_root = 'data/imagenet'

data_preprocessor = dict(
    type='SelfSupPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,  # LoadImageFromFile gives BGR; mean / std are RGB
    num_views=2)

view_pipeline = [
    dict(type='mmpretrain.RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0)),
    dict(type='mmpretrain.RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.299)),
    dict(type='mmpretrain.ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
         hue=0.4),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='mmpretrain.PackInputs'),
]
test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.ResizeEdge', scale=256, edge='short'),
    dict(type='mmpretrain.CenterCrop', crop_size=224),
    dict(type='mmpretrain.PackInputs'),
]


def _loader(ann_file, img_dir, pipeline, shuffle, batch_size, workers=8):
    return dict(
        batch_size=batch_size,
        num_workers=workers,
        persistent_workers=False,
        worker_init_fn=dict(type='selfemb.seed_worker_from_torch'),
        # training: mmengine's DefaultSampler that a run resumed inside an epoch can start
        # part-way (ResumableSampler)
        sampler=dict(type='ResumableSampler' if shuffle else 'DefaultSampler', shuffle=shuffle),
        collate_fn=dict(type='pseudo_collate'),
        dataset=dict(type=dataset_type, data_root=data_root, ann_file=ann_file,
                     data_prefix=dict(img_path=img_dir), pipeline=pipeline))


train_dataloader = _loader('meta/train.txt', 'train', train_pipeline, True, 32)
knn_train_dataloader = _loader('meta/train.txt', 'train', test_pipeline, False, 128)
knn_val_dataloader = _loader('meta/val.txt', 'val', test_pipeline, False, 128)
# hooks keyed by role: a child overrides by role (custom_hooks = dict(knn=dict(interval=5)))
# or removes one (dict(knn=None)); --cfg-options custom_hooks.knn.k=5
custom_hooks = dict(
    knn=dict(type='KNNEvalHook', train_dataloader='knn_train_dataloader',
             val_dataloader='knn_val_dataloader', interval=10, k=200, temperature=0.07))
