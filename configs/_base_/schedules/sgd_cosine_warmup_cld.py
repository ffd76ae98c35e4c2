# CLD's CIFAR schedule: SGD lr 0.03 * bs / 128 (0.06 at bs 256), momentum 0.9, wd 7e-4,
# 5 epochs of linear warm-up, then cosine decay to 0 over the remaining epochs (200 in all).
# Methods that change the length override param_scheduler's begin/end and max_epochs.
# fused SGD: one multi-tensor kernel per step (torch has it on CUDA and the CPU)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=7e-4, fused=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=195, eta_min=0.0, by_epoch=True, begin=5, end=200,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)  # --auto-scale-lr: lr 0.03 * bs / 128
