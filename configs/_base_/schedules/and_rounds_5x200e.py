# AND / Super-AND round schedule (CIFAR / SVHN recipe): bs from the dataset base, SGD
# Nesterov lr 0.03 m 0.9 wd 5e-4; 5 rounds x 200 epochs, round 0 instance
# discrimination; before round r the lowest-entropy min(r * 0.25, 1) of the samples
# become anchors with their nearest neighbour (k 1, tau 0.1); the lr restarts every
# round: 0.03 for epochs 0-119 of the round, 0.003 for 120-159, 0.0003 for 160-199, as
# both official codes (lr * 0.1 ** ((epoch - 80) // 40) from epoch 80: first decay at
# 120). (The kNN monitor comes with the dataset base.)
# To change the round length, set param_scheduler.0.epochs_per_round and
# train_cfg.max_epochs together (the discovery hook reads the scheduler's).
_base_ = ['../default_runtime.py']

num_rounds = 5
epochs_per_round = 200

# fused SGD: one multi-tensor kernel per step (torch has it on CUDA and the CPU)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=5e-4, nesterov=True, fused=True))
param_scheduler = [
    dict(type='RoundMultiStepLR', epochs_per_round=epochs_per_round,
         milestones=[120, 160], gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=num_rounds * epochs_per_round)
# NeighbourhoodDiscoveryHook (method_hooks.discovery of the AND / Super-AND model bases)
# takes its round length from RoundMultiStepLR above.
