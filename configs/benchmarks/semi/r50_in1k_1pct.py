# Semi-supervised ImageNet, 1% labels (about 13 images per class): the whole ResNet-50
# is fine-tuned from a selfemb checkpoint. Schedule of OpenSelfSup / mmselfsup
# (benchmarks/classification/imagenet/imagenet_{1,10}percent): SGD momentum 0.9, weight
# decay 5e-4 (1e-4 for 10%: r50_in1k_10pct.py), 20 epochs, lr x0.2 at epochs 12 and
# 16, batch 256 (4 GPUs x 64), SyncBN.
# There the backbone lr and the head's lr multiplier are grid-searched (lr in {0.1, 0.01,
# 0.001} x head lr_mult in {1, 10, 100}); this file is lr 0.01 with head x100. Change with
#   --cfg-options optim_wrapper.optimizer.lr=0.001 \
#     optim_wrapper.paramwise_cfg.custom_keys.head.lr_mult=10
# The label subset is an index file over meta/train.txt, written once with
#   python tools/benchmarks/classification/make_semi_subsets.py \
#     configs/benchmarks/semi/r50_in1k_1pct.py --percent 1 10 --out data/imagenet/meta
#   bash tools/dist_train.sh configs/benchmarks/semi/r50_in1k_1pct.py 4 \
#     --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/npid_r50_in1k/epoch_200.pth
_base_ = ['../linear/r50_in1k.py']
model = dict(backbone=dict(frozen_stages=-1, norm_eval=False,
                           norm_cfg=dict(type='SyncBN', requires_grad=True)))
train_dataloader = dict(
    batch_size=64,
    dataset=dict(filter_cfg=dict(index_file='data/imagenet/meta/train_1pct_seed0.txt')))
optim_wrapper = dict(
    optimizer=dict(lr=0.01, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=100.)}))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[12, 16], gamma=0.2)]
train_cfg = dict(max_epochs=20, val_interval=5)
