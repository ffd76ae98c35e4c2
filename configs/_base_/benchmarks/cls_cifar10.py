# CIFAR-10 with labels for supervised heads on a pretrained backbone (linear probe,
# fine-tuning): mmpretrain classification pipelines, ClsDataPreprocessor, Accuracy.
dataset_type = 'CIFAR10'
data_root = 'data/cifar10'
num_classes = 10

data_preprocessor = dict(
    type='mmpretrain.ClsDataPreprocessor',
    num_classes=num_classes,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=False)  # the in-memory arrays are RGB already

train_pipeline = [
    dict(type='mmpretrain.RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.PackInputs'),
]
test_pipeline = [dict(type='mmpretrain.PackInputs')]


def _loader(split, pipeline, shuffle, batch_size=256, workers=8):
    return dict(
        batch_size=batch_size,
        num_workers=workers,
        persistent_workers=False,
        worker_init_fn=dict(type='selfemb.seed_worker_from_torch'),
        sampler=dict(type='DefaultSampler', shuffle=shuffle),
        collate_fn=dict(type='pseudo_collate'),
        dataset=dict(type=dataset_type, data_root=data_root, split=split, pipeline=pipeline))


train_dataloader = _loader('train', train_pipeline, True)
val_dataloader = _loader('test', test_pipeline, False, workers=4)
test_dataloader = val_dataloader
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
val_cfg = dict()
test_cfg = dict()
