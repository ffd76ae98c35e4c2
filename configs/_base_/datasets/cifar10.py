# CIFAR-10 (python pickle batches) with the per-image CPU pipeline of ISIF / NPID.
dataset_type = 'CIFAR10'
data_root = 'data/cifar10'

data_preprocessor = dict(
    type='SelfSupPreprocessor',
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    num_views=2)

# The official ISIF / NPID / AND / CLD code augments PIL images with torchvision, colour
# jitter before grayscale; the same transforms run here through mmpretrain's wrappers
# (mmcv's own colour ops assume BGR arrays, these sources give RGB). AND / NPID's CIFAR
# code and SVHN use it without the flip (view_pipeline_no_flip).
view_pipeline_no_flip = [
    dict(type='mmpretrain.NumpyToPIL', to_rgb=False),
    dict(type='mmpretrain.torchvision/RandomResizedCrop', size=32, scale=(0.2, 1.0)),
    dict(type='mmpretrain.torchvision/ColorJitter', brightness=0.4, contrast=0.4,
         saturation=0.4, hue=0.4),
    dict(type='mmpretrain.torchvision/RandomGrayscale', p=0.2),
    dict(type='mmpretrain.PILToNumpy', to_bgr=False),
]
view_pipeline = view_pipeline_no_flip[:-1] + [
    dict(type='mmpretrain.torchvision/RandomHorizontalFlip', p=0.5),
    view_pipeline_no_flip[-1],
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
# hooks keyed by role: a child overrides by role (custom_hooks = dict(knn=dict(interval=5)))
# or removes one (dict(knn=None)); --cfg-options custom_hooks.knn.k=5
custom_hooks = dict(
    knn=dict(type='KNNEvalHook', train_dataloader='knn_train_dataloader',
             val_dataloader='knn_val_dataloader', interval=10, k=200, temperature=0.1))
