# ImageNet-100 (the 100-class subset of CMC, Tian et al. 2019) from list files:
# data/imagenet100/meta/{train,val}.txt with `relative/path.JPEG label` lines relative to
# data/imagenet100/{train,val} (see docs/data_preparation.md). Same pipelines as ImageNet.
_base_ = ['./imagenet.py']
data_root = 'data/imagenet100'
train_dataloader = dict(dataset=dict(data_root=data_root))
knn_train_dataloader = dict(dataset=dict(data_root=data_root))
knn_val_dataloader = dict(dataset=dict(data_root=data_root))
