# NPID (Wu et al. 2018): CIFAR ResNet-18, fc -> 128, L2, memory bank sized from the data.
model = dict(
    type='NPID',
    # PyTorch's default init, as the official code: no zeroed last BN scale per block,
    # no Kaiming init of the convs (mmpretrain's defaults)
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, ),
                  zero_init_residual=False, init_cfg=None),
    neck=dict(type='LinearNeck', in_channels=512, out_channels=128),
    head=dict(type='NPIDHead', loss_type='softmax', temperature=0.1),
    memory=dict(type='SimpleMemory', feat_dim=128, momentum=0.5),  # momentum weights OLD
)
