# CLD on Fashion-MNIST (device-resident data path): the CIFAR recipe of r18_cifar10.py
# (bs 256, k 128, lambda 1.0, T_G 0.2, tau_I 0.1, lr 0.06, wd 7e-4) with the schedule
# scaled to 20 epochs: 1 warm-up epoch, then cosine.
_base_ = [
    '../_base_/models/cld_r18_cifar.py',
    '../_base_/datasets/fmnist_device.py',
    '../_base_/schedules/sgd_cosine_warmup_cld.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=256, drop_last=True)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=19, eta_min=0.0, by_epoch=True, begin=1, end=20,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=20)
default_hooks = dict(checkpoint=dict(interval=5))
