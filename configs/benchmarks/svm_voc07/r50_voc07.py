# VOC07 linear-SVM benchmark (Goyal et al. 2019): feature extraction for a selfemb
# ResNet-50 checkpoint. Images of VOC2007 trainval / test in ImageSets/Main order,
# short side resized to 256, then to 224 x 224 (mmselfsup svm_voc07.py); the res5 map
# (7 x 7) is avg_pool2d(6, stride 1) pooled to 2048 x 2 x 2 = 8192-d (--pool-kernel 6,
# mmselfsup MultiPooling 'specified'). Then the SVMs (docs/evaluation.md):
#   python tools/extract_features.py configs/benchmarks/svm_voc07/r50_voc07.py CKPT \
#     --out work_dirs/svm_feats --layers res5 --pool-kernel 6 \
#     --dataloader trainval_dataloader test_dataloader
#   python tools/benchmarks/svm_voc07/train_svm.py work_dirs/svm_feats --layer res5 \
#     --voc-root data/VOCdevkit/VOC2007
# Another depth: --cfg-options model.backbone.depth=18 (512 x 2 x 2 = 2048-d).
default_scope = 'selfemb'
data_root = 'data/VOCdevkit/VOC2007'

data_preprocessor = dict(
    type='mmpretrain.ClsDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)  # LoadImageFromFile gives BGR
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='mmpretrain.ResNet', depth=50, out_indices=(3, ), norm_eval=True,
                  zero_init_residual=False),
    neck=None,
    head=None)

extract_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.ResizeEdge', scale=256, edge='short'),
    dict(type='mmpretrain.Resize', scale=(224, 224), keep_ratio=False),
    dict(type='mmpretrain.PackInputs'),
]


def _loader(split):
    return dict(
        batch_size=32,
        num_workers=4,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='pseudo_collate'),
        dataset=dict(type='VOC07Classification', data_root=data_root, split=split,
                     pipeline=extract_pipeline))


trainval_dataloader = _loader('trainval')
test_dataloader = _loader('test')
