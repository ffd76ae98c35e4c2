# STL-10 (binary format), 96x96, per-image CPU pipeline of ISIF.
dataset_type = 'STL10'
data_root = 'data/stl10'

data_preprocessor = dict(
    type='SelfSupPreprocessor',
    mean=[113.9, 112.2, 103.7],
    std=[66.4, 65.4, 69.2],
    num_views=2)

# The official ISIF / NPID / AND / CLD code augments PIL images with torchvision, colour
# jitter before grayscale; the same transforms run here through mmpretrain's wrappers
# (mmcv's own colour ops assume BGR arrays, these sources give RGB).
view_pipeline = [
    dict(type='mmpretrain.NumpyToPIL', to_rgb=False),
    dict(type='mmpretrain.torchvision/RandomResizedCrop', size=96, scale=(0.2, 1.0)),
    dict(type='mmpretrain.torchvision/ColorJitter', brightness=0.4, contrast=0.4,
         saturation=0.4, hue=0.4),
    dict(type='mmpretrain.torchvision/RandomGrayscale', p=0.2),
    dict(type='mmpretrain.torchvision/RandomHorizontalFlip', p=0.5),
    dict(type='mmpretrain.PILToNumpy', to_bgr=False),
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
        persistent_workers=False,
        worker_init_fn=dict(type='selfemb.seed_worker_from_torch'),
        sampler=dict(type='DefaultSampler', shuffle=shuffle),
        collate_fn=dict(type='pseudo_collate'),
        dataset=dict(type=dataset_type, data_root=data_root, split=split, pipeline=pipeline))


train_dataloader = _loader('train+unlabeled', train_pipeline, True, 128)
knn_train_dataloader = _loader('train', test_pipeline, False, 256, workers=4)
knn_val_dataloader = _loader('test', test_pipeline, False, 256, workers=4)
# hooks keyed by role: a child overrides by role (custom_hooks = dict(knn=dict(interval=5)))
# or removes one (dict(knn=None)); --cfg-options custom_hooks.knn.k=5
custom_hooks = dict(
    knn=dict(type='KNNEvalHook', train_dataloader='knn_train_dataloader',
             val_dataloader='knn_val_dataloader', interval=10, k=200, temperature=0.1))
