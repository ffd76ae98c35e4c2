# NPID on Fashion-MNIST: the CIFAR recipe (ResNet-18, full softmax, tau 0.1, bank
# momentum 0.5) on the device-resident data path, schedule scaled to 20 epochs like
# configs/isif/r18_fmnist.py so the two compare at equal epochs.
_base_ = [
    '../_base_/models/npid_r18_cifar.py',
    '../_base_/datasets/fmnist_device.py',
    '../_base_/schedules/sgd_20e_fmnist.py',
    '../_base_/default_runtime.py',
]
data_preprocessor = dict(num_views=1)
default_hooks = dict(checkpoint=dict(interval=5))
