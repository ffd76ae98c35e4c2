# Linear probe of a frozen ResNet-50 on ImageNet-1k (pooled 2048-d conv5 features), the
# MoCo / NPID protocol as in mmselfsup's resnet50_linear-8xb32-steplr-100e_in1k: SGD lr 30,
# momentum 0.9, no weight decay, lr x0.1 at epochs 60 and 80, 100 epochs, batch 256
# (8 GPUs x 32), RandomResizedCrop 224 + flip; test: short side 256, centre crop 224.
#   bash tools/dist_train.sh configs/benchmarks/linear/r50_in1k.py 8 \
#     --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/npid_r50_in1k/epoch_200.pth
_base_ = [
    '../../_base_/benchmarks/cls_imagenet.py',
    '../../_base_/default_runtime.py',
]
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(
        type='mmpretrain.ResNet',
        depth=50,
        out_indices=(3, ),
        frozen_stages=4,
        norm_eval=True,
        # mmpretrain's ResNet zero-initialises residual BNs after init_cfg unless its type
        # is exactly 'Pretrained': keep the loaded weights
        zero_init_residual=False,
        init_cfg=dict(type='StrictPretrained', checkpoint='work_dirs/npid_r50_in1k/epoch_200.pth',
                      prefix='backbone.')),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)),
)
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=30., momentum=0.9, weight_decay=0.,
                                        fused=True))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[60, 80], gamma=0.1)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=1, save_best='auto'))
env_cfg = dict(cudnn_benchmark=True)
