# CIFAR-100 (python pickles, 100 fine labels) with the per-image CPU pipeline of
# ISIF / NPID: the CIFAR-10 file's pipeline and loaders on another source.
# mean / std: the official Super-AND CIFAR-100 values (0.5071, 0.4866, 0.4409) /
# (0.2009, 0.1984, 0.2023) on the 0-255 scale.
_base_ = ['./cifar10.py']
dataset_type = 'CIFAR100'
data_root = 'data/cifar100'
source = dict(type=dataset_type, data_root=data_root)

data_preprocessor = dict(mean=[129.3105, 124.083, 112.4295], std=[51.2295, 50.592, 51.5865])
train_dataloader = dict(dataset=source)
knn_train_dataloader = dict(dataset=source)
knn_val_dataloader = dict(dataset=source)
