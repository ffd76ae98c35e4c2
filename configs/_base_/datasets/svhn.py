# SVHN cropped digits (official .mat files), 32x32, per-image CPU pipeline. No horizontal
# flip: the images are digits (Super-AND §4.1). Trains on `train` (73,257 images; use
# split='train+extra' for all 604,388), kNN with `train` against `test` (26,032).
# mean / std: SVHN train statistics (0.4377, 0.4438, 0.4728) / (0.1980, 0.2010, 0.1970)
# on the 0-255 scale.
dataset_type = 'SVHN'
data_root = 'data/svhn'

data_preprocessor = dict(
    type='SelfSupPreprocessor',
    mean=[111.61, 113.17, 120.56],
    std=[50.49, 51.26, 50.24],
    num_views=2)

view_pipeline = [
    dict(type='mmpretrain.RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0)),
    dict(type='mmpretrain.RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.299, 0.587, 0.114)),
    dict(type='mmpretrain.ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
         hue=0.4),
]
train_pipeline = [
    dict(type='mmpretrain.MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='mmpretrain.PackInputs'),
]
test_pipeline = [dict(type='mmpretrain.PackInputs')]


def _loader(split, pipeline, shuffle, batch_size, workers=8):
    return dict(
        batch_size=batch_size,
        num_workers=workers,
        persistent_workers=False,  # re-seeded per epoch: exact --resume
        worker_init_fn=dict(type='selfemb.seed_worker_from_torch'),
        sampler=dict(type='DefaultSampler', shuffle=shuffle),
        collate_fn=dict(type='pseudo_collate'),
        dataset=dict(type=dataset_type, data_root=data_root, split=split, pipeline=pipeline))


train_dataloader = _loader('train', train_pipeline, True, 128)
knn_train_dataloader = _loader('train', test_pipeline, False, 512, workers=2)
knn_val_dataloader = _loader('test', test_pipeline, False, 512, workers=2)
custom_hooks = [
    dict(type='KNNEvalHook', train_dataloader=knn_train_dataloader,
         val_dataloader=knn_val_dataloader, interval=10, k=200, temperature=0.1)
]
