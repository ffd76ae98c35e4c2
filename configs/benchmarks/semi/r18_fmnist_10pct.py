# Semi-supervised Fashion-MNIST, 10% labels (600 per class): the whole ISIF ResNet-18 is
# fine-tuned with the mmselfsup semi-supervised schedule (see ../semi/r50_in1k_1pct.py):
# backbone lr 0.01, head lr x10, SGD momentum 0.9, weight decay 1e-4 (the 10% schedule;
# 5e-4 is mmselfsup's 1% one), 20 epochs, lr x0.2
# at 12 and 16, batch 256.
#   python tools/benchmarks/classification/make_semi_subsets.py \
#     configs/benchmarks/semi/r18_fmnist_10pct.py --percent 1 10 --out data/fmnist_semi
#   python tools/train.py configs/benchmarks/semi/r18_fmnist_10pct.py \
#     --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/isif_r18_fmnist/epoch_20.pth
_base_ = ['../linear/r18_fmnist.py']
model = dict(backbone=dict(frozen_stages=-1, norm_eval=False))
train_dataloader = dict(
    dataset=dict(filter_cfg=dict(index_file='data/fmnist_semi/train_10pct_seed0.txt')))
optim_wrapper = dict(
    optimizer=dict(lr=0.01, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.)}))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[12, 16], gamma=0.2)]
train_cfg = dict(max_epochs=20, val_interval=5)
