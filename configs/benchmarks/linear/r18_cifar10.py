# Linear probe of a frozen CIFAR ResNet-18 on CIFAR-10 (pooled 512-d conv5 features).
# Recipe: mmselfsup's cosine linear protocol transplanted to CIFAR (none of our papers
# states a CIFAR linear recipe; they report kNN): SGD lr 0.1, momentum 0.9, no weight
# decay, cosine to 0 over 100 epochs, batch 256, RandomCrop(32, pad 4) + flip.
#   python tools/train.py configs/benchmarks/linear/r18_cifar10.py \
#     --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/isif_r18_cifar10/epoch_200.pth
_base_ = [
    '../../_base_/benchmarks/linear_r18_cifar.py',
    '../../_base_/benchmarks/cls_cifar10.py',
    '../../_base_/default_runtime.py',
]
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.,
                                        fused=True))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=100, by_epoch=True, begin=0, end=100)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=1, save_best='auto'))
