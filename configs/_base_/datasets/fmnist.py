# Fashion-MNIST (idx files, gray -> RGB, 32x32) with the per-image CPU pipeline of
# ISIF / NPID: the CIFAR-10 file's pipeline and loaders on another source.
# (configs/_base_/datasets/fmnist_device.py is the device-resident alternative.)
_base_ = ['./cifar10.py']
dataset_type = 'FashionMNIST'
data_root = '/usr/share/datasets/fashion-mnist'
source = dict(type=dataset_type, data_root=data_root)

data_preprocessor = dict(mean=[72.94, 72.94, 72.94], std=[90.02, 90.02, 90.02])
train_dataloader = dict(dataset=source)
knn_train_dataloader = dict(dataset=source)
knn_val_dataloader = dict(dataset=source)
custom_hooks = dict(knn=dict(interval=1))
