# CLD on Fashion-MNIST-LT: the training set cut to a long tail of imbalance ratio 100
# (6000 images of class 0 down to 60 of class 9, n_c = 6000 * 100^(-c/9)), as CIFAR-10-LT
# in the paper (Table 1). kNN: the long-tailed train set as reference, the balanced test
# set as queries.
_base_ = ['./r18_fmnist.py']
long_tail = dict(filter_cfg=dict(long_tail=dict(imbalance_ratio=100)))
train_dataloader = dict(dataset=long_tail)
knn_train_dataloader = dict(dataset=long_tail)
