# Super-AND (Han et al. 2020): two CIFAR ResNet-18 trunks (3x3 stem, no max-pool), one on
# RGB and one on the fixed gray -> Sobel-x/y image, pooled features concatenated
# (2 x 512) -> fc -> 128 -> L2; AND's non-parametric classifier over the bank (tau 0.1,
# momentum 0.5 on the OLD entry, k = 1 neighbour as NeighbourhoodDiscoveryHook) plus the
# augmentation loss (tau 0.1) and the UE loss (w = 0.2 * (epoch_in_round // 80), own logit
# set to -10 as the official code). Downstream transfer uses the RGB trunk
# (state dict under `backbone.trunk.`). Both trunks (SobelResNet builds the Sobel one
# from the same config) keep PyTorch's default init, as the official code: init_cfg=None
# (convs uniform within 1/sqrt(fan_in), not mmpretrain's Kaiming-normal) and
# zero_init_residual=False (every BN gamma 1, not zero on each block's last BN).
model = dict(
    type='SuperAND',
    backbone=dict(type='SobelResNet',
                  trunk=dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, ),
                             zero_init_residual=False, init_cfg=None)),
    neck=dict(type='LinearNeck', in_channels=1024, out_channels=128),
    head=dict(type='SuperANDHead', temperature=0.1, aug_temperature=0.1, aug_weight=1.0,
              ue_step=80, ue_factor=0.2, ue_self_logit=-10.0),
    memory=dict(type='NeighbourhoodMemory', feat_dim=128, momentum=0.5, num_neighbours=1),
)
# the hooks Super-AND cannot run without, keyed by role (registered after custom_hooks): the
# discovery of anchors and neighbours before every round (its round length comes from
# the schedule's RoundMultiStepLR)
method_hooks = dict(
    discovery=dict(type='NeighbourhoodDiscoveryHook', select_rate=0.25, k=1, temperature=0.1))
