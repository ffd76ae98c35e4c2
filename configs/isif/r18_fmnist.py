# ISIF on Fashion-MNIST (gray replicated to RGB, 32x32) with the paper's CIFAR recipe
# (ResNet-18, tau 0.1, bs 128, SGD lr 0.03) and its schedule scaled to 20 epochs
# (lr x0.1 at 60% and x0.01 at 80%, as 120/160 of 200). Device-resident data path.
_base_ = [
    '../_base_/models/isif_r18_cifar.py',
    '../_base_/datasets/fmnist_device.py',
    '../_base_/default_runtime.py',
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=5e-4))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[12, 16], gamma=0.1)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20)
default_hooks = dict(checkpoint=dict(interval=5))
# The official code drops the last, smaller batch (its in-batch negatives would change).
train_dataloader = dict(drop_last=True)
# all ranks' keys in every softmax, as the official single-process run (no-op on 1 GPU)
model = dict(head=dict(gather_keys=True))
