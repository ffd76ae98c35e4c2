# ImageNet-100 (data/imagenet100, see imagenet100.py) through the GPU input path of
# imagenet_gpu.py.
_base_ = ['./imagenet_gpu.py']
data_root = 'data/imagenet100'
train_dataloader = dict(dataset=dict(data_root=data_root))
knn_train_dataloader = dict(dataset=dict(data_root=data_root))
knn_val_dataloader = dict(dataset=dict(data_root=data_root))
