# UIC on Fashion-MNIST (gray -> RGB, 32x32, device-resident data path): CIFAR ResNet-18,
# K = 100 pseudo classes (10 x the 10 classes), one augmented view per image (crop
# 0.2-1, grayscale, colour jitter 0.4, flip; labels for epoch t are the argmax on the
# views of epoch t-1), class-balanced sampling, bs 256, SGD lr 0.1 m 0.9 wd 5e-4 with
# cosine decay over 20 epochs (the paper's ImageNet runs: 500 epochs; no small-data
# recipe is published, so this schedule is ours). kNN monitor every epoch.
_base_ = [
    '../_base_/models/uic_r18_cifar.py',
    '../_base_/datasets/fmnist_device.py',
    '../_base_/default_runtime.py',
]
data_preprocessor = dict(num_views=1)
train_dataloader = dict(batch_size=256,
                        sampler=dict(type='ClassBalancedSampler', _delete_=True))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, fused=True))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=20, eta_min=0.0,
                        begin=0, end=20)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20)
default_hooks = dict(checkpoint=dict(interval=5))
