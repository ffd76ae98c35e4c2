# InterCLR on Fashion-MNIST: the CIFAR-10 recipe (configs/interclr/r18_cifar10.py:
# 100 clusters, K = 1,024 semi-hard negatives, MoCo queue 4,096, margins +0.35 / -0.5,
# tau 0.1, lambda 0.75) on the device-resident data path, cosine over 20 epochs like
# the other Fashion-MNIST configs.
_base_ = [
    '../_base_/datasets/fmnist_device.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='InterCLR',
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, )),
    neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=512, out_channels=128,
              num_layers=2),
    memory=dict(type='ODCMemory', feat_dim=128, momentum=0.5, num_clusters=100,
                interval=1, min_cluster=1),
    intra_head=dict(type='MarginNCEHead', margin=0.35, temperature=0.1),
    inter_head=dict(type='MarginNCEHead', margin=-0.5, temperature=0.1),
    intra_weight=0.75,
    intra_source='moco',
    num_negatives=1024,
    intra_negatives=4096,
    negative_strategy='semihard',
    pool_fraction=0.1,
    key_momentum=0.99,
)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=20, eta_min=3e-5, by_epoch=True, begin=0, end=20)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20)
default_hooks = dict(checkpoint=dict(interval=5),
                     odc_init=dict(type='ODCInitHook', dataloader='knn_train_dataloader'))
