# CLD (Wang, Liu, Yu, CVPR 2021) = NPID + cross-level discrimination: CIFAR ResNet-18,
# two 128-d branches, both Linear -> L2 (the official NPID+CLD CIFAR script does not pass
# --normlinear, which would switch both to NormedLinear), NPID full softmax over the bank
# (tau_I 0.1, bank momentum 0.5 on the old entry), k = 128 groups, T_G = 0.2,
# lambda = 1.0, centroids differentiable, one backbone forward per view.
# Release behaviour (docs/methods/cld.md): group_head.centroids='release', bank_update='release'.
model = dict(
    type='CLD',
    # PyTorch's default init (as the official CIFAR code): not mmpretrain's zeroed last BN scales
    # and Kaiming convolutions
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, ),
                  zero_init_residual=False, init_cfg=None),
    neck=dict(type='TwoBranchNeck', in_channels=512, out_channels=128, group_channels=128,
              instance_layer='linear', group_layer='linear'),
    instance_head=dict(type='NPIDHead', loss_type='softmax', temperature=0.1),
    group_head=dict(type='CLDHead', num_groups=128, temperature=0.2, num_iters=5,
                    global_batch=False, detach_centroids=False),
    memory=dict(type='SimpleMemory', feat_dim=128, momentum=0.5),  # momentum weights OLD
    cld_weight=1.0,
    per_view_forward=True,
)
