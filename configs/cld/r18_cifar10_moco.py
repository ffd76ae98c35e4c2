# CLDm (MoCo + CLD), CIFAR-10: the CLD recipe of r18_cifar10.py with the instance branch
# replaced by a momentum encoder (m 0.99) and a queue of 4096 keys (InfoNCE, tau_I 0.1),
# MoCo's CIFAR settings. Paper: kNN top-1 87.5.
_base_ = ['./r18_cifar10.py']
model = dict(
    _delete_=True,
    type='CLDm',
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, )),
    neck=dict(type='TwoBranchNeck', in_channels=512, out_channels=128, group_channels=128,
              instance_layer='linear', group_layer='normed_linear'),
    cld_head=dict(type='CLDHead', num_groups=128, temperature=0.2, num_iters=5),
    queue_len=4096, feat_dim=128, momentum=0.99, temperature=0.1, cld_weight=1.0,
)
