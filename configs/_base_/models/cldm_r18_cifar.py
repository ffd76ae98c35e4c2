# CLDm (MoCo + CLD), the official CIFAR recipe (scripts/cifar/train_cifar10_moco_cld.sh):
# CIFAR ResNet-18, both 128-d branches NormedLinear -> L2 (--normlinear), three views
# (--three-imgs: queries f_I(x1), f_I(x2) against the key of x3, the group term on x1, x2),
# k = 200 groups (--clusters), T_G 0.2 (--cld_t), lambda 0.8, tau_I 0.07 (--nce-t),
# queue 12288 (--nce-k), key-encoder momentum 0.999 (--alpha, its default).
model = dict(
    type='CLDm',
    # PyTorch's default init (as the official CIFAR code): not mmpretrain's zeroed last BN scales
    # and Kaiming convolutions
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, ),
                  zero_init_residual=False, init_cfg=None),
    neck=dict(type='TwoBranchNeck', in_channels=512, out_channels=128, group_channels=128,
              instance_layer='normed_linear', group_layer='normed_linear'),
    instance_head=dict(type='MarginNCEHead', margin=0.0, temperature=0.07),  # InfoNCE
    group_head=dict(type='CLDHead', num_groups=200, temperature=0.2, num_iters=5,
                    global_batch=False, detach_centroids=False),
    queue_len=12288, feat_dim=128, momentum=0.999, cld_weight=0.8,
    num_views=3, per_view_forward=True,
)
