# Fashion-MNIST on the device-resident data path: the uint8 training set lives on the
# GPU and the ISIF / NPID augmentations run batched there (SelfSupPreprocessor).
# For the per-image CPU pipeline inherit fmnist.py instead.
dataset_type = 'FashionMNIST'
data_root = '/usr/share/datasets/fashion-mnist'

# the official NPID / AND augmentations have no horizontal flip (their configs use
# batch_augments_no_flip); ISIF's and the others' add it
batch_augments_no_flip = [
    dict(type='BatchRandomResizedCrop', size=32, scale=(0.2, 1.0)),
    dict(type='BatchColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.4),
    dict(type='BatchRandomGrayscale', p=0.2),
]
data_preprocessor = dict(
    type='SelfSupPreprocessor',
    mean=[72.94, 72.94, 72.94],
    std=[90.02, 90.02, 90.02],
    num_views=2,
    batch_augments=batch_augments_no_flip + [dict(type='BatchHorizontalFlip', p=0.5)])


def _loader(split, shuffle, batch_size):
    return dict(
        batch_size=batch_size,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=shuffle),
        collate_fn=dict(type='selfemb.device_collate'),
        # device='auto': the whole split on this rank's GPU, served a batch at a time
        dataset=dict(type=dataset_type, data_root=data_root, split=split, device='auto'))


train_dataloader = _loader('train', True, 128)
# kNN: train features recomputed with the test transform, evaluated on the test split.
knn_train_dataloader = _loader('train', False, 512)
knn_val_dataloader = _loader('test', False, 512)
# hooks keyed by role: a child overrides by role (custom_hooks = dict(knn=dict(interval=5)))
# or removes one (dict(knn=None)); --cfg-options custom_hooks.knn.k=5
# knn_bank: the papers' memory-bank protocol (NPID / AND / Super-AND) beside it, off here;
# scripts/reproduce_fmnist.sh fills it in (--cfg-options custom_hooks.knn_bank._delete_=True
# custom_hooks.knn_bank.type=KNNEvalHook custom_hooks.knn_bank.reference=bank ...)
custom_hooks = dict(
    knn=dict(type='KNNEvalHook', train_dataloader='knn_train_dataloader',
             val_dataloader='knn_val_dataloader', interval=1, k=200, temperature=0.1),
    knn_bank=None)
