# ImageNet from a list file, decoded and augmented on the GPU: workers only read the JPEG
# bytes (LoadImageBytes); EncodedImagePreprocessor decodes the batch with nvJPEG (NVIDIA
# DALI when installed, pip install -e '.[dali]', else torchvision) and builds both views of
# every image from one decode with the recipe of imagenet.py: RandomResizedCrop(224,
# 0.2-1), grayscale 0.2, ColorJitter(0.4, 0.4, 0.4, 0.4), flip. The differences from the
# CPU pipeline are listed in docs/data_preparation.md. Same files, lists and sampler.
_base_ = ['./imagenet.py']

data_preprocessor = dict(
    _delete_=True,
    type='EncodedImagePreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    num_views=2,
    crop_size=224, crop_scale=(0.2, 1.0), test_resize=256,
    decoder='auto',  # 'dali' or 'torchvision' to choose; the choice is logged
    batch_augments=[
        dict(type='BatchRandomGrayscale', p=0.2),
        dict(type='BatchColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.4),
        dict(type='BatchHorizontalFlip', p=0.5),
    ])

bytes_pipeline = [
    dict(type='LoadImageBytes'),
    dict(type='mmpretrain.PackInputs'),
]
# reading bytes is cheap: a few workers per GPU suffice
train_dataloader = dict(num_workers=4, dataset=dict(pipeline=bytes_pipeline))
knn_train_dataloader = dict(num_workers=4, dataset=dict(pipeline=bytes_pipeline))
knn_val_dataloader = dict(num_workers=4, dataset=dict(pipeline=bytes_pipeline))
