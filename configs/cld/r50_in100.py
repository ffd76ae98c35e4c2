# CLD (NPID + cross-level discrimination), ImageNet-100: the model of
# _base_/models/cld_r50_in100.py (ResNet-50, NPID NCE 4096 noise, lambda 0.25, k = 30 per
# GPU), SGD lr 0.03 m 0.9 wd 5e-4, bs 256 (8 GPUs x 32), 200 epochs, lr x0.1 at 120 and
# 160 (NPID's schedule). Images decoded and augmented by CPU workers; r50_in100_gpu.py is
# the same run with the GPU input path. Paper: linear 79.7.
#   tools/dist_train.sh configs/cld/r50_in100.py 8
_base_ = [
    '../_base_/datasets/imagenet100.py',
    '../_base_/models/cld_r50_in100.py',
    '../_base_/schedules/sgd_200e_isif.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=32, drop_last=True)
auto_scale_lr = dict(base_batch_size=256)
