# CLDm (MoCo + CLD), ImageNet-100: ResNet-50, momentum encoder (m 0.999), queue of 16384
# keys, T_I = T_G = 0.2 (paper Table 8), lambda 0.25, k = 30 per GPU. As the official
# ImageNet code: three views (queries from two, the key from the third; the group term on
# the two query views), both branches plain Linear (its ResNet without MLP head ignores
# --normlinear).
model = dict(
    type='CLDm',
    backbone=dict(type='mmpretrain.ResNet', depth=50, out_indices=(3, )),
    neck=dict(type='TwoBranchNeck', in_channels=2048, out_channels=128, group_channels=128,
              instance_layer='linear', group_layer='linear'),
    instance_head=dict(type='MarginNCEHead', margin=0.0, temperature=0.2),  # InfoNCE
    group_head=dict(type='CLDHead', num_groups=30, temperature=0.2, num_iters=5),
    queue_len=16384, feat_dim=128, momentum=0.999, cld_weight=0.25,
    num_views=3, per_view_forward=True,
)
