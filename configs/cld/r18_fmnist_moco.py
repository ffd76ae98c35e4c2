# CLDm (MoCo + CLD) on Fashion-MNIST (device-resident data path): the official CIFAR
# recipe of r18_cifar10_moco.py (both branches NormedLinear, three views, k 200,
# lambda 0.8, T_G 0.2, tau_I 0.07, queue 12288, m 0.999, wd 8e-4, lr 0.06) with the
# schedule of r18_fmnist.py (20 epochs: 1 warm-up epoch, then cosine).
# Augmentation, batched on the device: MoCo v2's views (crop, ColorJitter(.4, .4, .4, .1)
# p 0.8, grayscale p 0.2, Gaussian blur sigma ~ U(0.1, 2) p 0.5 -- a true Gaussian, where
# the official code uses PIL's box-blur approximation -- flip), then random erasing p 1.0
# filled with the mean (0 after normalisation, as the official code's erasing after
# Normalize).
_base_ = [
    '../_base_/models/cldm_r18_cifar.py',
    '../_base_/datasets/fmnist_device.py',
    '../_base_/schedules/sgd_cosine_warmup_cld.py',
    '../_base_/default_runtime.py',
]
data_preprocessor = dict(
    num_views=3,
    batch_augments=[
        dict(type='BatchRandomResizedCrop', size=32, scale=(0.2, 1.0)),
        dict(type='BatchColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1,
             p=0.8),
        dict(type='BatchRandomGrayscale', p=0.2),
        dict(type='BatchGaussianBlur', sigma=(0.1, 2.0), p=0.5),
        dict(type='BatchHorizontalFlip', p=0.5),
        dict(type='BatchRandomErasing', p=1.0, scale=(0.02, 0.33), ratio=(0.3, 3.3),
             value=72.94 / 255),
    ])
train_dataloader = dict(batch_size=256, drop_last=True)
optim_wrapper = dict(optimizer=dict(weight_decay=8e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=19, eta_min=0.0, by_epoch=True, begin=1, end=20,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=20)
default_hooks = dict(checkpoint=dict(interval=5))
