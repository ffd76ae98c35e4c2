# ISIF, STL-10: train on train+unlabeled (105k, 96x96), kNN with the 5k labelled train
# images against the 8k test images. ResNet-18 with the CIFAR stem (3x3 stride-1 conv,
# no max-pool: a 12x12 last map at 96 px), as the official code builds it, globally
# average-pooled (the official avg_pool2d(out, 7) pools only the top-left 7x7), 128-d,
# tau 0.1.
_base_ = [
    '../_base_/datasets/stl10.py',
    '../_base_/schedules/sgd_200e_isif.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='ISIF',
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, ),
                  zero_init_residual=False, init_cfg=None),  # PyTorch's init
    neck=dict(type='LinearNeck', in_channels=512, out_channels=128),
    head=dict(type='InstanceSpreadHead', temperature=0.1, detach_key=True,
              gather_keys=True),  # all ranks' keys, as the official 1-process run
)
# The official code drops the last, smaller batch (its in-batch negatives would change).
train_dataloader = dict(drop_last=True)
