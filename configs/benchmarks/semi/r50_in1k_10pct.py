# Semi-supervised ImageNet, 10% labels: as r50_in1k_1pct.py (whole ResNet-50 fine-tuned,
# backbone lr 0.01) with the head's lr x10, the 10% subset file and weight decay 1e-4
# (mmselfsup imagenet_10percent; only the 1% schedule uses 5e-4).
_base_ = ['./r50_in1k_1pct.py']
train_dataloader = dict(
    dataset=dict(filter_cfg=dict(index_file='data/imagenet/meta/train_10pct_seed0.txt')))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4),
                     paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.)}))
