# Linear probe: a FROZEN CIFAR ResNet-18 (every stage frozen, BN statistics fixed),
# global average pooling, one fc layer. The backbone comes from a selfemb checkpoint:
# StrictPretrained (selfemb; mmengine's Pretrained that fails on any missing, unexpected
# or mis-shaped key) reads the checkpoint's state_dict, keeps the keys starting with
# `prefix` and strips it ('backbone.conv1.weight' -> 'conv1.weight'), then loads them
# into this backbone. Point it at your run with
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/<run>/epoch_N.pth
# (a backbone-only file from extract_backbone_weights.py keeps the 'backbone.' prefix and
# loads as it is).
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(
        type='mmpretrain.ResNet_CIFAR',
        depth=18,
        out_indices=(3, ),
        frozen_stages=4,  # stem + the 4 stages: requires_grad False, kept in eval mode
        norm_eval=True,
        # mmpretrain's ResNet zero-initialises residual BNs after init_cfg unless its type
        # is exactly 'Pretrained': keep the loaded weights
        zero_init_residual=False,
        init_cfg=dict(type='StrictPretrained',
                      checkpoint='work_dirs/isif_r18_cifar10/epoch_200.pth',
                      prefix='backbone.')),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.LinearClsHead',
        num_classes=10,
        in_channels=512,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)),
)
