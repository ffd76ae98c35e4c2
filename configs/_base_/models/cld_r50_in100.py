# CLD (NPID + cross-level discrimination), ImageNet-100: ResNet-50, 128-d branches, NPID
# NCE with 4096 noise samples (tau_I 0.07), lambda 0.25, T_G 0.2, k = 30 groups (close
# to the per-GPU batch of 32; each GPU clusters its own batch as the official code does,
# or set model.group_head.global_batch=True). Both branches plain Linear (the official
# ImageNet ResNet without MLP head, models/ResNet.py).
model = dict(
    type='CLD',
    backbone=dict(type='mmpretrain.ResNet', depth=50, out_indices=(3, )),
    neck=dict(type='TwoBranchNeck', in_channels=2048, out_channels=128, group_channels=128,
              instance_layer='linear', group_layer='linear'),
    instance_head=dict(type='NPIDHead', loss_type='nce', temperature=0.07,
                       num_negatives=4096),
    group_head=dict(type='CLDHead', num_groups=30, temperature=0.2, num_iters=5,
                    global_batch=False),
    memory=dict(type='SimpleMemory', feat_dim=128, momentum=0.5),
    cld_weight=0.25,
)
