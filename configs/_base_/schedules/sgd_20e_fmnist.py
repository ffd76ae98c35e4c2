# The Fashion-MNIST schedule of ISIF / NPID: the CIFAR recipe of sgd_200e_isif.py (SGD
# lr 0.03, momentum 0.9, wd 5e-4) scaled to 20 epochs, lr x0.1 at epoch 12 and x0.01 at
# 16 (60 % and 80 %, as 120 / 160 of 200).
# fused SGD: one multi-tensor kernel per step (torch has it on CUDA and the CPU)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=5e-4, fused=True))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[12, 16], gamma=0.1)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20)
