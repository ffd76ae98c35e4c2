# UIC + strong augmentation (Chen et al., ECCVW 2020, §5), ImageNet-1k: ResNet-50
# (zero_init_residual=False) with the official MLP head (two layers 2048 -> 2048, each
# linear + BN + ReLU, Kaiming-normal fan_out) before the classifier to K = 3000 pseudo
# classes (classifier init N(0, 0.01²), bias 0). Augmentation of the official ResNet-50
# code, used both for the labels and for training: random resized crop (0.08-1), flip,
# colour distortion of strength 1 (jitter 0.8/0.8/0.8/0.2 with p 0.8, grayscale p 0.2)
# and Gaussian blur sigma U(0.1, 2) (per image with p 0.5 here; the official code flips
# one coin per GPU batch). Official ResNet-50 schedule (main.sh): SGD bs 1024 (8 GPUs x
# 128), lr 0.2, momentum 0.9, wd 1e-4, cosine decay to 0 over 500 epochs.
#   tools/dist_train.sh configs/uic/r50_in1k.py 8
_base_ = [
    '../_base_/datasets/imagenet.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='UIC',
    num_classes=3000,
    backbone=dict(type='mmpretrain.ResNet', depth=50, out_indices=(3, ),
                  zero_init_residual=False),
    # hidden layers Kaiming-normal (fan_out, as the official 1x1 convs), classifier N(0, 0.01²)
    head=dict(type='UICHead', in_channels=2048, hid_channels=(2048, 2048), norm=True,
              init_cfg=dict(type='Kaiming', layer='Linear', mode='fan_out',
                            nonlinearity='relu', distribution='normal',
                            override=dict(type='Normal', name='fc', std=0.01, bias=0))),
)
data_preprocessor = dict(num_views=1)
view_pipeline = [
    dict(type='mmpretrain.RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomApply', prob=0.8, transforms=[
        dict(type='mmpretrain.ColorJitter', brightness=0.8, contrast=0.8, saturation=0.8,
             hue=0.2)]),
    dict(type='mmpretrain.RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.299)),
    dict(type='mmpretrain.GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf',
         prob=0.5),
]
train_dataloader = dict(
    batch_size=128,
    sampler=dict(type='ClassBalancedSampler', _delete_=True),
    dataset=dict(pipeline=[
        dict(type='mmpretrain.LoadImageFromFile'),
        dict(type='mmpretrain.MultiView', num_views=1, transforms=[view_pipeline]),
        dict(type='mmpretrain.PackInputs'),
    ]))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=1e-4, fused=True))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=500, eta_min=0.0,
                        begin=0, end=500)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=500)
# the hook UIC cannot run without (as in configs/_base_/models/uic_r18_cifar.py, this
# file's own model), after the dataset base's kNN monitor: the labels of epoch t from t-1
method_hooks = dict(labels=dict(type='UICLabelHook'))
default_hooks = dict(checkpoint=dict(interval=10))
auto_scale_lr = dict(base_batch_size=1024)
