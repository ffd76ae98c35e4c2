# InterCLR (Xie et al.), ImageNet-1k, 200 epochs (paper App. A; the official release
# where the paper is silent): ResNet-50, 2-layer MLP neck 2048-2048-128 (L2), MoCo intra
# branch (the official release is MoCo-based; queue of 65,536 keys as the release,
# momentum 0.999, shuffle BN across GPUs), inter branch over an ODCMemory of
# len(dataset) rows with 10,000 online mini-batch k-means clusters: rows replaced by the
# MoCo keys (bank_source='key', momentum 0.0 = weight of the old entry; the paper's
# eq. 2 blends with 0.5), centroids re-averaged every 10 iterations, clusters under 20
# members refilled every iteration (as the release); semi-hard negatives (K = 16,384
# from the top 10 %), MarginNCE inter margin -0.5, intra margin +0.35 (the best of the
# paper's §5.2 ablation; the release uses 0: --cfg-options model.intra_head.margin=0),
# tau 0.1 (the paper; the released head uses 0.2), lambda 0.75. SGD lr 0.03 m 0.9
# wd 1e-4, bs 256 (8 GPUs x 32), cosine to 3e-5. The initial k-means (ODCInitHook)
# clusters the embeddings of one no-grad pass over the train split.
#   tools/dist_train.sh configs/interclr/r50_in1k.py 8
_base_ = [
    '../_base_/datasets/imagenet.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='InterCLR',
    backbone=dict(type='mmpretrain.ResNet', depth=50, out_indices=(3, )),
    neck=dict(type='NonLinearNeck', in_channels=2048, hid_channels=2048, out_channels=128,
              num_layers=2),
    memory=dict(type='ODCMemory', feat_dim=128, momentum=0.0, num_clusters=10000,
                interval=10, min_cluster=20, small_cluster_interval=1),
    intra_head=dict(type='MarginNCEHead', margin=0.35, temperature=0.1),
    inter_head=dict(type='MarginNCEHead', margin=-0.5, temperature=0.1),
    intra_weight=0.75,
    intra_source='moco',
    num_negatives=16384,
    intra_negatives=65536,
    negative_strategy='semihard',
    pool_fraction=0.1,
    key_momentum=0.999,
    bank_source='key',
)
# NPID's augmentation plus Gaussian blur, colour jitter with saturation in [0, 2] and
# hue in [-0.5, 0.5] (paper App. A); two views (query and MoCo key).
view_pipeline = [
    dict(type='mmpretrain.RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0)),
    dict(type='mmpretrain.RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.299)),
    dict(type='mmpretrain.ColorJitter', brightness=0.4, contrast=0.4, saturation=1.0,
         hue=0.5),
    dict(type='mmpretrain.GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf',
         prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='mmpretrain.PackInputs'),
]))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4, fused=True))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=200, eta_min=3e-5, by_epoch=True, begin=0, end=200)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)
# the hook InterCLR cannot run without (as in configs/_base_/models/interclr_r18_cifar.py,
# this file's own model): the initial global k-means of the bank
method_hooks = dict(odc_init=dict(type='ODCInitHook', dataloader='knn_train_dataloader'))
auto_scale_lr = dict(base_batch_size=256)
