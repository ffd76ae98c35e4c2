# Linear probe of the ISIF Fashion-MNIST ResNet-18 (configs/isif/r18_fmnist.py), frozen,
# on Fashion-MNIST's 10 classes. The CIFAR-10 probe's recipe (SGD lr 0.1, no weight decay,
# cosine, batch 256) with the schedule scaled like the ISIF run: 30 epochs.
#   python tools/train.py configs/isif/r18_fmnist.py --work-dir work_dirs/isif_r18_fmnist
#   python tools/train.py configs/benchmarks/linear/r18_fmnist.py \
#     --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/isif_r18_fmnist/epoch_20.pth
_base_ = [
    '../../_base_/benchmarks/linear_r18_cifar.py',
    '../../_base_/benchmarks/cls_fmnist.py',
    '../../_base_/default_runtime.py',
]
model = dict(backbone=dict(init_cfg=dict(checkpoint='work_dirs/isif_r18_fmnist/epoch_20.pth')))
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.,
                                        fused=True))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=30, by_epoch=True, begin=0, end=30)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=1, save_best='auto'))
