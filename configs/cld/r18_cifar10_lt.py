# CLD on CIFAR-10-LT (paper Table 1; reported kNN top-1 41.1, CLDm 43.1): the recipe of
# r18_cifar10.py on the training set cut to a long tail, imbalance ratio 100 (5000 images
# of class 0 down to 50 of class 9, 12,406 in all; the common CIFAR-LT setting, the paper
# does not state its ratio). kNN: the long-tailed train set as reference, the balanced
# test set as queries.
_base_ = ['./r18_cifar10.py']
train_dataloader = dict(dataset=dict(filter_cfg=dict(long_tail=dict(imbalance_ratio=100))))
knn_train_dataloader = dict(dataset=dict(filter_cfg=dict(long_tail=dict(imbalance_ratio=100))))
