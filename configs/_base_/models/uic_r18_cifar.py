# UIC (Chen et al. 2020) with the CIFAR ResNet-18 (3x3 stem, no max-pool): global
# average pool -> linear classifier to K pseudo classes, cross-entropy against the
# previous epoch's argmax labels (PseudoLabelMemory, sized from len(dataset)).
# K = 10 x the real classes (the paper over-clusters: 3k-10k for 1000 classes).
model = dict(
    type='UIC',
    num_classes=100,
    # PyTorch's default init (like every CIFAR trunk here (no official CIFAR recipe)): not
    # mmpretrain's zeroed last BN scales and Kaiming convolutions
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, ),
                  zero_init_residual=False, init_cfg=None),
    head=dict(type='UICHead', in_channels=512),
)
# the hook UIC cannot run without, keyed by role (registered after custom_hooks, so after
# the kNN monitor): the labels of epoch t from the predictions of epoch t - 1
method_hooks = dict(labels=dict(type='UICLabelHook'))
