# ISIF, unseen-category protocol (Ye et al. 2019, Sec. 4.2) on CUB-200-2011: train
# without labels on classes 1-100 (5,864 images), report Recall@1/2/4/8 and NMI on the
# 5,924 images of the unseen classes 101-200 (`recall_dataloader`):
#   python tools/train.py configs/isif/r50_cub200_unseen.py \
#     --cfg-options model.backbone.init_cfg.checkpoint=data/pretrained/resnet50_tv.pth
#   python tools/benchmarks/recall_at_k.py configs/isif/r50_cub200_unseen.py \
#     work_dirs/r50_cub200_unseen/epoch_60.pth
# Backbone: the paper uses ImageNet Inception-V1 (GoogLeNet, pool5 = 1024-d); mmpretrain
# has no Inception-V1 / GoogLeNet backbone (only InceptionV3), so this is mmpretrain's
# ResNet-50 (pool5 = 2048-d) -> fc 128 -> L2, as DESIGN section 4 allows.
# Pretrained weights: `pretrained` below is a path the user sets, by editing it here or
# with --cfg-options model.backbone.init_cfg.checkpoint=PATH (`--cfg-options
# pretrained=PATH` does NOT reach the model: the variable is read when this file is
# parsed). A torchvision state dict loads as is, e.g.
#   python -c "import torch, torchvision; torch.save(torchvision.models.resnet50(
#     weights='IMAGENET1K_V1').state_dict(), 'data/pretrained/resnet50_tv.pth')"
# torchvision's resnet50 keys equal mmpretrain ResNet(depth=50)'s (318 keys, same shapes,
# checked with torchvision 0.29 / mmpretrain 1.2) plus fc.weight / fc.bias, which
# mmengine's `Pretrained` initialiser reports as unexpected and skips.
# Recipe (paper): images resized to 256x256, random 227x227 crop + horizontal flip
# (test: centre 227 crop), SGD lr 0.001 momentum 0.9 (wd 5e-4 as the released
# demo_unseen.py) without decay, batch 64, tau 0.1, 128-d embedding. The released script
# runs 60 epochs and, unlike the paper's text, multiplies the lr by 0.1 at epochs 20 and
# 40; this config follows the paper (constant lr) for the released 60 epochs.
# Positives (CUB only, as paper and code): before every epoch each training image's
# nearest other training image is found from the L2-normalised pool5 features of the
# current network (test transform, eval mode), and the second view of every sample is
# cropped from that neighbour with probability 0.5, else from the image itself
# (NeighbourPositiveHook + NeighbourPositiveMemory + NeighbourPairDataset).
# batch_size is per GPU: on W GPUs use 64 // W for the paper's batch; gather_keys=True
# scores every anchor against the whole batch as the official one-process run does.
_base_ = ['../_base_/default_runtime.py']

pretrained = 'data/pretrained/resnet50_tv.pth'  # ImageNet ResNet-50 weights
data_root = 'data/CUB_200_2011'
dataset_type = 'CUB200'

model = dict(
    type='ISIF',
    data_preprocessor=dict(
        type='SelfSupPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,  # LoadImageFromFile gives BGR
        num_views=2),
    backbone=dict(type='mmpretrain.ResNet', depth=50, out_indices=(3, ),
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(type='LinearNeck', in_channels=2048, out_channels=128),
    head=dict(type='InstanceSpreadHead', temperature=0.1, detach_key=True, gather_keys=True),
    memory=dict(type='NeighbourPositiveMemory'),
)

train_pipeline = [  # one view per image: NeighbourPairDataset makes the pair
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=(256, 256), keep_ratio=False),
    dict(type='mmpretrain.RandomCrop', crop_size=227),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmpretrain.PackInputs'),
]
test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=(256, 256), keep_ratio=False),
    dict(type='mmpretrain.CenterCrop', crop_size=227),
    dict(type='mmpretrain.PackInputs'),
]


def _loader(split, pipeline, shuffle, batch_size, workers=4):
    return dict(
        batch_size=batch_size,
        num_workers=workers,
        persistent_workers=False,  # partners change every epoch
        worker_init_fn=dict(type='selfemb.seed_worker_from_torch'),
        sampler=dict(type='DefaultSampler', shuffle=shuffle),
        collate_fn=dict(type='pseudo_collate'),
        dataset=dict(type=dataset_type, data_root=data_root, split=split, pipeline=pipeline))


_train = _loader('train', train_pipeline, True, 64)
train_dataloader = dict(_train, dataset=dict(type='NeighbourPairDataset',
                                             dataset=_train['dataset']))
# the training images with the test transform, for the neighbour search
neighbour_dataloader = _loader('train', test_pipeline, False, 100)
# read by tools/benchmarks/recall_at_k.py: the unseen classes' images
recall_dataloader = _loader('test', test_pipeline, False, 100)
recall_cfg = dict(ks=(1, 2, 4, 8), feature='embedding')

custom_hooks = dict(neighbour_positive=dict(
    type='NeighbourPositiveHook', dataloader='neighbour_dataloader', prob=0.5,
    feature='backbone'))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=5e-4, fused=True))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=60)
default_hooks = dict(checkpoint=dict(interval=5), logger=dict(interval=20))
