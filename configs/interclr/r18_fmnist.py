# InterCLR on Fashion-MNIST: the CIFAR-10 recipe (configs/interclr/r18_cifar10.py:
# 100 clusters, K = 1,024 semi-hard negatives, MoCo queue 4,096, margins +0.35 / -0.5,
# tau 0.1, lambda 0.75) on the device-resident data path, cosine over 20 epochs like
# the other Fashion-MNIST configs.
_base_ = [
    '../_base_/models/interclr_r18_cifar.py',
    '../_base_/datasets/fmnist_device.py',
    '../_base_/default_runtime.py',
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=5e-4, fused=True))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=20, eta_min=3e-5, by_epoch=True, begin=0, end=20)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20)
default_hooks = dict(checkpoint=dict(interval=5))
