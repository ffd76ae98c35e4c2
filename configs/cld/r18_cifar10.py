# CLD (NPID + cross-level discrimination), CIFAR-10: ResNet-18, bs 256, k = 128 groups,
# lambda 1.0, T_G 0.2, tau_I 0.1, SGD lr 0.06 (0.03 * bs / 128) wd 7e-4, 5 warm-up epochs
# then cosine, 200 epochs. Paper: kNN top-1 86.7 (NPID 80.8).
_base_ = [
    '../_base_/models/cld_r18_cifar.py',
    '../_base_/datasets/cifar10.py',
    '../_base_/schedules/sgd_cosine_warmup_cld.py',
    '../_base_/default_runtime.py',
]
# drop_last: a short last batch could hold fewer samples than k groups
train_dataloader = dict(batch_size=256, drop_last=True)
