# FCN (dilated ResNet-50, output stride 8) on PASCAL VOC 2012 train + SBD aug (10582
# images), 20k iterations of 16 crops of 512x512 (4 GPUs x 4, or 8 x 2), mIoU on VOC12 val:
# mmseg's own fcn_r50-d8_4xb4-20k_voc12aug-512x512 with one change of backbone: mmseg's FCN
# uses ResNetV1c (a deep 3-conv stem, keys stem.*), our pre-trained backbones are plain
# ResNets (7x7 conv1 stem), so this config builds mmseg's plain `ResNet` with the same
# depth, dilations (1, 1, 2, 4) and strides (1, 2, 1, 1). It is initialised from the file of
# tools/model_converters/extract_backbone_weights.py with prefix='backbone.' (zero missing
# keys); tools/benchmarks/mmsegmentation/train.py --pretrained FILE sets it. SyncBN as in
# mmseg (train.py switches it to BN for one process or a CPU run); pytorch-style RGB
# normalisation as our pre-training (mmseg's default already).
# Run: tools/benchmarks/mmsegmentation/dist_train.sh THIS_CONFIG OUR_CHECKPOINT 4
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py'

pretrained = 'work_dirs/backbone.pth'  # replaced by train.py --pretrained
model = dict(
    pretrained=None,
    backbone=dict(type='ResNet', depth=50,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))

# the data root is written into every dataset; train.py --data-root replaces it
data_root = 'data/VOCdevkit/VOC2012'
train_dataloader = dict(dataset=dict(datasets=[
    dict(type='PascalVOCDataset', data_root=data_root, ann_file=f'ImageSets/Segmentation/{split}',
         data_prefix=dict(img_path='JPEGImages', seg_map_path=seg_dir),
         pipeline={{_base_.train_pipeline}})
    for split, seg_dir in (('train.txt', 'SegmentationClass'), ('aug.txt', 'SegmentationClassAug'))
]))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
default_hooks = dict(checkpoint=dict(max_keep_ckpts=2))
auto_scale_lr = dict(enable=False, base_batch_size=16)
