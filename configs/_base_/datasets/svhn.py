# SVHN cropped digits (official .mat files), 32x32, per-image CPU pipeline. No horizontal
# flip: the images are digits (Super-AND §4.1). Trains on `train` (73,257 images; use
# split='train+extra' for all 604,388), kNN with `train` against `test` (26,032).
# mean / std: SVHN train statistics (0.4377, 0.4438, 0.4728) / (0.1980, 0.2010, 0.1970)
# on the 0-255 scale.
_base_ = ['./cifar10.py']
dataset_type = 'SVHN'
data_root = 'data/svhn'
source = dict(type=dataset_type, data_root=data_root)

data_preprocessor = dict(mean=[111.61, 113.17, 120.56], std=[50.49, 51.26, 50.24])
train_dataloader = dict(dataset=dict(source, pipeline=[
    dict(type='mmpretrain.MultiView', num_views=2,
         transforms=[{{_base_.view_pipeline_no_flip}}]),
    dict(type='mmpretrain.PackInputs'),
]))
knn_train_dataloader = dict(dataset=source)
knn_val_dataloader = dict(dataset=source)
