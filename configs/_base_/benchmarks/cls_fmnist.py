# Fashion-MNIST (gray -> RGB, 32x32) with labels for supervised heads: the CIFAR-10
# classification file on another source (same crops and flips as the ISIF recipe).
_base_ = ['./cls_cifar10.py']
dataset_type = 'FashionMNIST'
data_root = '/usr/share/datasets/fashion-mnist'
source = dict(type=dataset_type, data_root=data_root)

data_preprocessor = dict(mean=[72.94, 72.94, 72.94], std=[90.02, 90.02, 90.02])
train_dataloader = dict(dataset=source)
val_dataloader = dict(dataset=source)
test_dataloader = dict(dataset=source)
