# NPID (Wu et al., CVPR 2018), ImageNet-1k: ResNet-50, 128-d, NCE with 4096 noise
# samples (tau 0.07), bank momentum 0.5, SGD lr 0.03 m 0.9 wd 1e-4, bs 256
# (8 GPUs x 32), 200 epochs, lr x0.1 at 120 and 160. The bank size is len(dataset).
#   tools/dist_train.sh configs/npid/r50_in1k.py 8
_base_ = [
    '../_base_/datasets/imagenet.py',
    '../_base_/schedules/sgd_200e_isif.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='NPID',
    backbone=dict(type='mmpretrain.ResNet', depth=50, out_indices=(3, ),
                  zero_init_residual=False),  # torchvision's init, as official
    neck=dict(type='LinearNeck', in_channels=2048, out_channels=128),
    head=dict(type='NPIDHead', loss_type='nce', temperature=0.07, num_negatives=4096),
    memory=dict(type='SimpleMemory', feat_dim=128, momentum=0.5),
)
data_preprocessor = dict(num_views=1)
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.MultiView', num_views=1, transforms=[{{_base_.view_pipeline}}]),
    dict(type='mmpretrain.PackInputs'),
]))
# NPID's ImageNet kNN uses sigma 0.07 (set in the dataset base); linear probe in
# configs/benchmarks/linear/.
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))  # official ImageNet value
auto_scale_lr = dict(base_batch_size=256)
