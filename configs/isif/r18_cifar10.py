# ISIF (Ye et al., CVPR 2019), CIFAR-10: ResNet-18, 128-d, tau 0.1, bs 128, 200 epochs.
# Paper: kNN top-1 83.6 (Super-AND's table for the same setting).
_base_ = [
    '../_base_/models/isif_r18_cifar.py',
    '../_base_/datasets/cifar10.py',
    '../_base_/schedules/sgd_200e_isif.py',
    '../_base_/default_runtime.py',
]
# The official code drops the last, smaller batch (its in-batch negatives would change).
train_dataloader = dict(drop_last=True)
# all ranks' keys in every softmax, as the official single-process run (no-op on 1 GPU)
model = dict(head=dict(gather_keys=True))
