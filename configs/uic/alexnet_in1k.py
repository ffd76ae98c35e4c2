# UIC (Chen et al., ECCVW 2020, §4.2), ImageNet-1k: AlexNet with BN on the Sobel image
# (gray -> Sobel-x / Sobel-y in front of the backbone, as DeepCluster), fc6 / fc7 (4096,
# dropout 0.5) and a classifier to K = 3000 pseudo classes; cross-entropy against the
# argmax of the previous epoch (same augmentation for labels and training: random
# resized crop + horizontal flip). Class-balanced sampling, empty classes split.
# SGD bs 256 (8 GPUs x 32), lr 0.1 decaying linearly to 0, momentum 0.9, wd 1e-4,
# 500 epochs.
#   tools/dist_train.sh configs/uic/alexnet_in1k.py 8
_base_ = [
    '../_base_/datasets/imagenet.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='UIC',
    num_classes=3000,
    sobel=True,
    backbone=dict(type='AlexNetBN', in_channels=2, out_indices=(4, )),
    head=dict(type='UICHead', in_channels=256 * 6 * 6, hid_channels=(4096, 4096),
              dropout=0.5, pool_size=6),
)
data_preprocessor = dict(num_views=1)
view_pipeline = [
    dict(type='mmpretrain.RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5),
]
train_dataloader = dict(
    batch_size=32,
    sampler=dict(type='ClassBalancedSampler', _delete_=True),
    dataset=dict(pipeline=[
        dict(type='mmpretrain.LoadImageFromFile'),
        dict(type='mmpretrain.MultiView', num_views=1, transforms=[view_pipeline]),
        dict(type='mmpretrain.PackInputs'),
    ]))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4, fused=True))
param_scheduler = [dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=True, begin=0, end=500)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=500)
# the hook UIC cannot run without (as in configs/_base_/models/uic_r18_cifar.py, this
# file's own model), after the dataset base's kNN monitor: the labels of epoch t from t-1
method_hooks = dict(labels=dict(type='UICLabelHook'))
default_hooks = dict(checkpoint=dict(interval=10))
auto_scale_lr = dict(base_batch_size=256)
