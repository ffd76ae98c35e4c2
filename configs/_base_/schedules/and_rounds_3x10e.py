# AND / Super-AND shortened round schedule (Fashion-MNIST): the recipe of
# and_rounds_5x200e.py on 3 rounds x 10 epochs (30 epochs in all, to keep the
# seven-method Fashion-MNIST comparison short), lr restarted every round and x0.1 at
# epochs 6 and 8 of the round (120 and 160 of 200 scaled by 0.05). Anchors: 25 % of the
# samples in round 1, 50 % in round 2.
_base_ = ['../default_runtime.py']

num_rounds = 3
epochs_per_round = 10

# fused SGD: one multi-tensor kernel per step (torch has it on CUDA and the CPU)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=5e-4, nesterov=True, fused=True))
param_scheduler = [
    dict(type='RoundMultiStepLR', epochs_per_round=epochs_per_round,
         milestones=[6, 8], gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=num_rounds * epochs_per_round)
# NeighbourhoodDiscoveryHook (method_hooks.discovery of the AND / Super-AND model bases)
# takes its round length from RoundMultiStepLR above.
