# AND (Huang et al. 2019): CIFAR ResNet-18 (3x3 stem, no max-pool), fc -> 128, L2; full
# non-parametric softmax over the bank (tau 0.1) with anchor neighbourhoods (k = 1 nearest
# neighbour, the same k as NeighbourhoodDiscoveryHook); bank momentum 0.5 on the OLD entry.
# The official trunk keeps PyTorch's default init: init_cfg=None (convs uniform within
# 1/sqrt(fan_in), not mmpretrain's Kaiming-normal) and zero_init_residual=False (every BN
# gamma 1, not zero on each block's last BN).
model = dict(
    type='AND',
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, ),
                  zero_init_residual=False, init_cfg=None),
    neck=dict(type='LinearNeck', in_channels=512, out_channels=128),
    head=dict(type='ANDHead', temperature=0.1),
    memory=dict(type='NeighbourhoodMemory', feat_dim=128, momentum=0.5, num_neighbours=1),
)
# the hooks AND cannot run without, keyed by role (registered after custom_hooks): the
# discovery of anchors and neighbours before every round (its round length comes from
# the schedule's RoundMultiStepLR)
method_hooks = dict(
    discovery=dict(type='NeighbourhoodDiscoveryHook', select_rate=0.25, k=1, temperature=0.1))
