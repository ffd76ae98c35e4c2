# InterCLR on CIFAR-10, scaled down from the ImageNet recipe: CIFAR ResNet-18, MLP neck
# 512-512-128 (L2), MoCo intra branch (queue 4,096, momentum 0.99), 100 clusters (10x
# the classes, as the paper's 10,000 for ImageNet), K = 1,024 semi-hard negatives from
# the top 10 % (~4,950 of 50,000), margins +0.35 / -0.5, tau 0.1, lambda 0.75, bs 128,
# SGD lr 0.03 m 0.9 wd 5e-4 (the CIFAR configs' value), cosine over 200 epochs.
_base_ = [
    '../_base_/models/interclr_r18_cifar.py',
    '../_base_/datasets/cifar10.py',
    '../_base_/default_runtime.py',
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=5e-4, fused=True))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=200, eta_min=3e-5, by_epoch=True, begin=0, end=200)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)
