# InterCLR with a CIFAR ResNet-18: MLP neck 512-512-128 (L2), MoCo intra branch (queue
# 4,096, momentum 0.99), ODCMemory with 100 clusters (10x the classes, as the paper's
# 10,000 for ImageNet) kept as the official release does: rows replaced by the MoCo
# keys (bank_source='key', momentum 0.0 = weight of the old entry), centroids every 10
# iterations, clusters under 20 members refilled every iteration; K = 1,024 semi-hard
# negatives from the top 10 %, margins +0.35 (intra; the release uses 0) / -0.5
# (inter), tau 0.1, lambda 0.75.
model = dict(
    type='InterCLR',
    # PyTorch's default init (like every CIFAR trunk here (the release has no CIFAR
    # recipe)): not mmpretrain's zeroed last BN scales and Kaiming convolutions
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, out_indices=(3, ),
                  zero_init_residual=False, init_cfg=None),
    neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=512, out_channels=128,
              num_layers=2),
    memory=dict(type='ODCMemory', feat_dim=128, momentum=0.0, num_clusters=100,
                interval=10, min_cluster=20, small_cluster_interval=1),
    intra_head=dict(type='MarginNCEHead', margin=0.35, temperature=0.1),
    inter_head=dict(type='MarginNCEHead', margin=-0.5, temperature=0.1),
    intra_weight=0.75,
    intra_source='moco',
    num_negatives=1024,
    intra_negatives=4096,
    negative_strategy='semihard',
    pool_fraction=0.1,
    key_momentum=0.99,
    bank_source='key',
)
# the hook InterCLR cannot run without, keyed by role (registered after custom_hooks): the
# initial global k-means of the bank, on embeddings of the training set
method_hooks = dict(odc_init=dict(type='ODCInitHook', dataloader='knn_train_dataloader'))
