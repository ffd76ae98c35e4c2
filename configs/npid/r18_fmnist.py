# NPID on Fashion-MNIST: the CIFAR recipe (ResNet-18, full softmax, tau 0.1, bank
# momentum 0.5) on the device-resident data path, schedule scaled to 20 epochs like
# configs/isif/r18_fmnist.py so the two compare at equal epochs.
_base_ = [
    '../_base_/models/npid_r18_cifar.py',
    '../_base_/datasets/fmnist_device.py',
    '../_base_/default_runtime.py',
]
data_preprocessor = dict(num_views=1)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=5e-4))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[12, 16], gamma=0.1)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20)
default_hooks = dict(checkpoint=dict(interval=5))
