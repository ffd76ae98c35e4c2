# NPID (Wu et al., CVPR 2018), CIFAR-10 in the AND setting: ResNet-18, 128-d, full
# non-parametric softmax over the bank (tau 0.1, bank momentum 0.5 on the old entry),
# SGD lr 0.03, 200 epochs (x0.1 at 120 and 160). One augmented view per image, no
# flip. Reported kNN top-1: 80.8.
_base_ = [
    '../_base_/models/npid_r18_cifar.py',
    '../_base_/datasets/cifar10.py',
    '../_base_/schedules/sgd_200e_isif.py',
    '../_base_/default_runtime.py',
]
data_preprocessor = dict(num_views=1)
train_dataloader = dict(dataset=dict(pipeline=[  # no flip, as the official CIFAR code
    dict(type='mmpretrain.MultiView', num_views=1,
         transforms=[{{_base_.view_pipeline_no_flip}}]),
    dict(type='mmpretrain.PackInputs'),
]))
