# CLDm (MoCo + CLD), ImageNet-100: ResNet-50, momentum encoder (m 0.999), queue of 16384
# keys, T_I = T_G = 0.2 (paper Table 8), lambda 0.25, k = 30 per GPU, SGD wd 1e-4 (the
# official main_imagenet_moco_cld.py default), otherwise the schedule of r50_in100.py.
# As the official ImageNet code: three views (queries from two, the key from the third;
# the group term on the two query views), both branches plain Linear (its ResNet without
# MLP head ignores --normlinear). Its released ImageNet-1k script adds an MLP head
# (--mlp) with NormedLinear branches and MoCo v2's augmentation, not reproduced here.
# Paper: linear top-1 81.7.
#   tools/dist_train.sh configs/cld/r50_in100_moco.py 8
_base_ = ['./r50_in100.py']
model = dict(
    _delete_=True,
    type='CLDm',
    backbone=dict(type='mmpretrain.ResNet', depth=50, out_indices=(3, )),
    neck=dict(type='TwoBranchNeck', in_channels=2048, out_channels=128, group_channels=128,
              instance_layer='linear', group_layer='linear'),
    instance_head=dict(type='MarginNCEHead', margin=0.0, temperature=0.2),  # InfoNCE
    group_head=dict(type='CLDHead', num_groups=30, temperature=0.2, num_iters=5),
    queue_len=16384, feat_dim=128, momentum=0.999, cld_weight=0.25,
    num_views=3, per_view_forward=True,
)
data_preprocessor = dict(num_views=3)
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.MultiView', num_views=3, transforms=[{{_base_.view_pipeline}}]),
    dict(type='mmpretrain.PackInputs'),
]))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
