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
# The official CIFAR code (and AND's) has no horizontal flip.
view_pipeline = [
    dict(type='mmpretrain.NumpyToPIL', to_rgb=False),
    dict(type='mmpretrain.torchvision/RandomResizedCrop', size=32, scale=(0.2, 1.0)),
    dict(type='mmpretrain.torchvision/ColorJitter', brightness=0.4, contrast=0.4,
         saturation=0.4, hue=0.4),
    dict(type='mmpretrain.torchvision/RandomGrayscale', p=0.2),
    dict(type='mmpretrain.PILToNumpy', to_bgr=False),
]
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='mmpretrain.MultiView', num_views=1, transforms=[view_pipeline]),
    dict(type='mmpretrain.PackInputs'),
]))
