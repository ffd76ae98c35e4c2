# ISIF (Ye et al. 2019): CIFAR ResNet-18 (3x3 stem, no max-pool), fc -> 128, L2.
model = dict(
    type='ISIF',
    # PyTorch's default init, as the official code: no zeroed last BN scale per block,
    # no Kaiming init of the convs (mmpretrain's defaults)
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, ),
                  zero_init_residual=False, init_cfg=None),
    neck=dict(type='LinearNeck', in_channels=512, out_channels=128),
    head=dict(type='InstanceSpreadHead', temperature=0.1, detach_key=True),
)
