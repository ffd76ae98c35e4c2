# CLDm (MoCo + CLD), ImageNet-100: the model of _base_/models/cldm_r50_in100.py (ResNet-50,
# momentum encoder m 0.999, queue 16384, T_I = T_G = 0.2, lambda 0.25, k = 30 per GPU,
# three views), SGD wd 1e-4 (the official main_imagenet_moco_cld.py default), otherwise the
# schedule of r50_in100.py. Its released ImageNet-1k script adds an MLP head (--mlp) with
# NormedLinear branches and MoCo v2's augmentation, not reproduced here. Images decoded on
# CPU workers; r50_in100_moco_gpu.py is the same run with the GPU input path.
# Paper: linear top-1 81.7.
#   tools/dist_train.sh configs/cld/r50_in100_moco.py 8
_base_ = [
    '../_base_/datasets/imagenet100.py',
    '../_base_/models/cldm_r50_in100.py',
    '../_base_/schedules/sgd_200e_isif.py',
    '../_base_/default_runtime.py',
]
data_preprocessor = dict(num_views=3)
train_dataloader = dict(batch_size=32, drop_last=True, dataset=dict(pipeline=[
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.MultiView', num_views=3, transforms=[{{_base_.view_pipeline}}]),
    dict(type='mmpretrain.PackInputs'),
]))
auto_scale_lr = dict(base_batch_size=256)
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
