# ISIF on Fashion-MNIST (gray replicated to RGB, 32x32) with the paper's CIFAR recipe
# (ResNet-18, tau 0.1, bs 128, SGD lr 0.03) and its schedule scaled to 20 epochs
# (lr x0.1 at 60% and x0.01 at 80%, as 120/160 of 200). Device-resident data path.
_base_ = [
    '../_base_/models/isif_r18_cifar.py',
    '../_base_/datasets/fmnist_device.py',
    '../_base_/schedules/sgd_20e_fmnist.py',
    '../_base_/default_runtime.py',
]
default_hooks = dict(checkpoint=dict(interval=5))
# The official code drops the last, smaller batch (its in-batch negatives would change).
train_dataloader = dict(drop_last=True)
# all ranks' keys in every softmax, as the official single-process run (no-op on 1 GPU)
model = dict(head=dict(gather_keys=True))
