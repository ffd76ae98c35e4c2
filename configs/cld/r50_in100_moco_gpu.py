# r50_in100_moco.py (CLDm, ImageNet-100) with the GPU input path
# (_base_/datasets/imagenet100_gpu.py): three views of every image from one GPU decode.
#   tools/dist_train.sh configs/cld/r50_in100_moco_gpu.py 8
_base_ = [
    '../_base_/datasets/imagenet100_gpu.py',
    '../_base_/models/cldm_r50_in100.py',
    '../_base_/schedules/sgd_200e_isif.py',
    '../_base_/default_runtime.py',
]
data_preprocessor = dict(num_views=3)
train_dataloader = dict(batch_size=32, drop_last=True)
auto_scale_lr = dict(base_batch_size=256)
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
