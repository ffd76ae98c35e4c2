# UIC on CIFAR-10: CIFAR ResNet-18, K = 100 pseudo classes (10 x the 10 classes), one
# augmented view per image (crop 0.2-1, grayscale 0.2, colour jitter 0.4, flip),
# class-balanced sampling, bs 256, SGD lr 0.1 m 0.9 wd 5e-4, cosine decay over 200 epochs
# (our CIFAR schedule; the paper reports ImageNet only). kNN monitor every 10 epochs.
_base_ = [
    '../_base_/models/uic_r18_cifar.py',
    '../_base_/datasets/cifar10.py',
    '../_base_/default_runtime.py',
]
data_preprocessor = dict(num_views=1)
train_dataloader = dict(
    batch_size=256,
    sampler=dict(type='ClassBalancedSampler', _delete_=True),
    dataset=dict(pipeline=[
        dict(type='mmpretrain.MultiView', num_views=1, transforms=[{{_base_.view_pipeline}}]),
        dict(type='mmpretrain.PackInputs'),
    ]))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, fused=True))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=200, eta_min=0.0,
                        begin=0, end=200)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)
