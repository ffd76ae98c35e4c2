# ISIF, STL-10: train on train+unlabeled (105k, 96x96), kNN with the 5k labelled train
# images against the 8k test images. ResNet-18 (ImageNet stem), 128-d, tau 0.1.
_base_ = [
    '../_base_/datasets/stl10.py',
    '../_base_/schedules/sgd_200e_isif.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='ISIF',
    backbone=dict(type='mmpretrain.ResNet', depth=18, out_indices=(3, )),
    neck=dict(type='LinearNeck', in_channels=512, out_channels=128),
    head=dict(type='InstanceSpreadHead', temperature=0.1, detach_key=True,
              gather_keys=True),  # all ranks' keys, as the official 1-process run
)
