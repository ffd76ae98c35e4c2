# CLDm (MoCo + CLD) on Fashion-MNIST: the recipe of r18_fmnist.py with the instance branch
# of r18_cifar10_moco.py (momentum encoder m 0.99, queue of 4096 keys, tau_I 0.1).
_base_ = ['./r18_fmnist.py']
model = dict(
    _delete_=True,
    type='CLDm',
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, )),
    neck=dict(type='TwoBranchNeck', in_channels=512, out_channels=128, group_channels=128,
              instance_layer='linear', group_layer='normed_linear'),
    cld_head=dict(type='CLDHead', num_groups=128, temperature=0.2, num_iters=5),
    queue_len=4096, feat_dim=128, momentum=0.99, temperature=0.1, cld_weight=1.0,
)
