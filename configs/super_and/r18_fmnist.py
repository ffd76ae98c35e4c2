# Super-AND on Fashion-MNIST (gray -> RGB, 32x32, device-resident data path, two views
# augmented on the device) with the CIFAR recipe (RGB + Sobel ResNet-18 trunks, tau 0.1,
# bank momentum 0.5, bs 128, SGD Nesterov lr 0.03 m 0.9 wd 5e-4, select_rate 0.25, k 1)
# on the shortened schedule of configs/and/r18_fmnist.py: 3 rounds x 10 epochs (the
# paper: 5 x 200), lr restarted every round and x0.1 at epochs 6 and 8 of the round,
# UE weight 0.2 * (epoch_in_round // 4) (120, 160 and 80 of 200 scaled by 0.05).
_base_ = [
    '../_base_/models/super_and_r18_cifar.py',
    '../_base_/datasets/fmnist_device.py',
    '../_base_/schedules/and_rounds_3x10e.py',
]
model = dict(head=dict(ue_step=4))
train_dataloader = dict(drop_last=True)
default_hooks = dict(checkpoint=dict(interval=5))
