# AND on Fashion-MNIST (gray -> RGB, 32x32, device-resident data path) with the CIFAR
# recipe (ResNet-18, tau 0.1, bank momentum 0.5, bs 128, SGD Nesterov lr 0.03 m 0.9
# wd 5e-4, select_rate 0.25, k 1, one view, no horizontal flip) on a shortened schedule:
# 3 rounds x 10 epochs (the paper: 5 x 200), lr restarted every round and x0.1 at epochs
# 6 and 8 of the round (120 and 160 of 200 scaled by 0.05).
# Anchors: 25 % of the samples in round 1, 50 % in round 2.
_base_ = [
    '../_base_/models/and_r18_cifar.py',
    '../_base_/datasets/fmnist_device.py',
    '../_base_/schedules/and_rounds_3x10e.py',
]
# the official AND's augmentations: the dataset base's without BatchHorizontalFlip
data_preprocessor = dict(num_views=1, batch_augments={{_base_.batch_augments_no_flip}})
default_hooks = dict(checkpoint=dict(interval=5))
