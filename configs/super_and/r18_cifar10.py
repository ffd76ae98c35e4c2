# Super-AND (Han et al. 2020), CIFAR-10: RGB + Sobel CIFAR ResNet-18 trunks, 128-d,
# two augmented views per image (RandomResizedCrop(.2-1), ColorJitter(.4 x4),
# grayscale .2, flip), L = L_and + L_aug + w(t) L_ue. bs 128, SGD Nesterov lr 0.03 m 0.9
# wd 5e-4; 5 rounds x 200 epochs with the lr restarted every round (0.03, x0.1 at epochs
# 120 and 160 of the round, as the official code) and w(t) = 0.2 * (epoch_in_round //
# 80). Anchors before round r: the lowest-entropy min(r * 0.25, 1) of the samples with
# their nearest neighbour. Last incomplete batch dropped, as the official loader.
# Reported kNN top-1 (Table 1): 89.2 (AND 86.3, ISIF 83.6).
_base_ = [
    '../_base_/models/super_and_r18_cifar.py',
    '../_base_/datasets/cifar10.py',
    '../_base_/schedules/and_rounds_5x200e.py',
]
train_dataloader = dict(drop_last=True)
