# CLDm (MoCo + CLD), ImageNet-100: ResNet-50, momentum encoder (m 0.999), queue of 16384
# keys, T_I = T_G = 0.2 (paper Table 8), lambda 0.25, k = 30 per GPU, the schedule of
# r50_in100.py. Paper: linear top-1 81.7.
#   tools/dist_train.sh configs/cld/r50_in100_moco.py 8
_base_ = ['./r50_in100.py']
model = dict(
    _delete_=True,
    type='CLDm',
    backbone=dict(type='mmpretrain.ResNet', depth=50, out_indices=(3, )),
    neck=dict(type='TwoBranchNeck', in_channels=2048, out_channels=128, group_channels=128,
              instance_layer='linear', group_layer='normed_linear'),
    cld_head=dict(type='CLDHead', num_groups=30, temperature=0.2, num_iters=5),
    queue_len=16384, feat_dim=128, momentum=0.999, temperature=0.2, cld_weight=0.25,
)
