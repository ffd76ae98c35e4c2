# r50_in100.py with the GPU input path (_base_/datasets/imagenet100_gpu.py): workers read
# JPEG bytes, the GPU decodes them (NVIDIA DALI if installed, else torchvision's nvJPEG)
# and builds both views. Same model, schedule, recipe and sampling.
#   tools/dist_train.sh configs/cld/r50_in100_gpu.py 8
_base_ = [
    '../_base_/datasets/imagenet100_gpu.py',
    '../_base_/models/cld_r50_in100.py',
    '../_base_/schedules/sgd_200e_isif.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=32, drop_last=True)
auto_scale_lr = dict(base_batch_size=256)
