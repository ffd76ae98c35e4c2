# CLD (NPID + cross-level discrimination), ImageNet-100: ResNet-50, 128-d branches, NPID
# NCE with 4096 noise samples (tau_I 0.07), lambda 0.25, T_G 0.2, k = 30 groups (close
# to the per-GPU batch of 32; each GPU clusters its own batch as the official code does,
# or set model.group_head.global_batch=True), SGD lr 0.03 m 0.9 wd 5e-4, bs 256 (8 GPUs x
# 32), 200 epochs, lr x0.1 at 120 and 160 (NPID's schedule). Both branches plain Linear
# (the official ImageNet ResNet without MLP head, models/ResNet.py). Paper: linear 79.7.
#   tools/dist_train.sh configs/cld/r50_in100.py 8
_base_ = [
    '../_base_/datasets/imagenet100.py',
    '../_base_/schedules/sgd_200e_isif.py',
    '../_base_/default_runtime.py',
]
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
train_dataloader = dict(batch_size=32, drop_last=True)
auto_scale_lr = dict(base_batch_size=256)
