# CLDm (MoCo + CLD), CIFAR-10, the official recipe (scripts/cifar/train_cifar10_moco_cld.sh
# of the authors' code; model in _base_/models/cldm_r18_cifar.py): both branches
# NormedLinear, three views, k 200, lambda 0.8, T_G 0.2, tau_I 0.07, queue 12288, m 0.999,
# bs 256, SGD lr 0.06 (0.03 * bs / 128) m 0.9 wd 8e-4, 5 warm-up epochs then cosine,
# 200 epochs. Paper: kNN top-1 87.5.
# Augmentation (--aug-plus --erasing, datasets/dataloader.py): MoCo v2's CIFAR views --
# RandomResizedCrop(32, scale 0.2-1), ColorJitter(.4, .4, .4, .1) with p 0.8, grayscale
# p 0.2, Gaussian blur sigma ~ U(0.1, 2) with p 0.5, flip -- then random erasing with
# p 1.0 (area 0.02-0.33, aspect 0.3-3.3). The official erasing runs after Normalize and
# fills 0, i.e. the mean colour; here it runs on the uint8 image and fills the mean
# rounded to integers (125, 123, 114), and mmpretrain's RandomErasing clips a box that
# would not fit where torchvision's redraws (up to 10 times, else no erasing).
_base_ = [
    '../_base_/models/cldm_r18_cifar.py',
    '../_base_/datasets/cifar10.py',
    '../_base_/schedules/sgd_cosine_warmup_cld.py',
    '../_base_/default_runtime.py',
]
data_preprocessor = dict(num_views=3)
view_pipeline = [
    dict(type='mmpretrain.RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0)),
    dict(type='RandomApply', prob=0.8, transforms=[
        dict(type='mmpretrain.ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
             hue=0.1)]),
    dict(type='mmpretrain.RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.299, 0.587, 0.114)),
    dict(type='mmpretrain.GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf',
         prob=0.5),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmpretrain.RandomErasing', erase_prob=1.0, min_area_ratio=0.02,
         max_area_ratio=0.33, aspect_range=(0.3, 3.3), mode='const',
         fill_color=(125, 123, 114)),
]
# drop_last: a short last batch could hold fewer samples than k groups
train_dataloader = dict(batch_size=256, drop_last=True, dataset=dict(pipeline=[
    dict(type='mmpretrain.MultiView', num_views=3, transforms=[view_pipeline]),
    dict(type='mmpretrain.PackInputs'),
]))
optim_wrapper = dict(optimizer=dict(weight_decay=8e-4))
