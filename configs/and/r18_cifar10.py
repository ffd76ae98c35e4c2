# AND (Huang et al., ICML 2019), CIFAR-10: ResNet-18, 128-d, full softmax over the bank
# (tau 0.1, bank momentum 0.5 on the old entry), bs 128, SGD Nesterov lr 0.03 m 0.9
# wd 5e-4. 5 rounds x 200 epochs: round 0 is instance discrimination; before round r the
# lowest-entropy min(r * 0.25, 1) of the samples become anchors with their nearest
# neighbour. The lr restarts every round: 0.03, x0.1 at epochs 120 and 160 of the round
# (official: lr * 0.1 ** ((epoch - 80) // 40) from epoch 80). One augmented view per
# image, as the official AND: RandomResizedCrop(.2-1), ColorJitter(.4 x4), grayscale .2,
# NO horizontal flip (its base.yaml leaves it off; Super-AND adds it).
# Reported kNN top-1 (Super-AND Table 1): 86.3.
_base_ = [
    '../_base_/models/and_r18_cifar.py',
    '../_base_/datasets/cifar10.py',
    '../_base_/schedules/and_rounds_5x200e.py',
]
data_preprocessor = dict(num_views=1)
train_pipeline = [
    dict(type='mmpretrain.MultiView', num_views=1,
         transforms=[{{_base_.view_pipeline_no_flip}}]),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
