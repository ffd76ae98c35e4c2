# Faster R-CNN R50-C4 on PASCAL VOC07+12 trainval, evaluated on VOC07 test (11-point mAP),
# 24k iterations of 16 images (8 GPUs x 2), multi-scale training: the detection transfer
# protocol of MoCo / OpenSelfSup. mmdet ships the 18k version of this setting; this config
# inherits it and changes the schedule, the normalisation (pytorch-style RGB mean / std, as
# our pre-training) and the initialisation:
# * backbone (stem + res2-res4) and shared head (res5 = the backbone's layer4) are both
#   initialised from the file of tools/model_converters/extract_backbone_weights.py with
#   prefix='backbone.'; tools/benchmarks/mmdetection/train.py --pretrained FILE sets it;
# * the shared head is selfemb.ResLayerExtraNorm: res5 followed by one extra SyncBN, as
#   mmselfsup's ResLayerExtraNorm / MoCo's Res5ROIHeadsExtraNorm; that norm is not in the
#   checkpoint and starts fresh (weight 1, bias 0);
# * every stage is fine-tuned (frozen_stages=-1) with SyncBN that is trained (norm_eval
#   False); train.py switches SyncBN to BN for a single process or a CPU run;
# * pytorch-style blocks (stride on the 3x3 conv), as mmpretrain's ResNet.
# Run: tools/benchmarks/mmdetection/dist_train.sh THIS_CONFIG OUR_CHECKPOINT 8
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py'

pretrained = 'work_dirs/backbone.pth'  # replaced by train.py --pretrained
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True),
    backbone=dict(
        frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    roi_head=dict(shared_head=dict(
        type='selfemb.ResLayerExtraNorm', norm_cfg=norm_cfg, norm_eval=False, style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'))))

# the data root is written into every dataset; train.py --data-root replaces it.
# ignore_keys: VOC07 and VOC12 differ in metainfo['dataset_type'], which mmengine's
# ConcatDataset refuses otherwise (mmdet's 18k config lacks this).
data_root = 'data/VOCdevkit/'
train_dataloader = dict(dataset=dict(ignore_keys=['dataset_type'], datasets=[
    dict(type='VOCDataset', data_root=data_root, ann_file=f'VOC{year}/ImageSets/Main/trainval.txt',
         data_prefix=dict(sub_data_root=f'VOC{year}/'),
         filter_cfg=dict(filter_empty_gt=True, min_size=32),
         pipeline={{_base_.train_pipeline}}) for year in (2007, 2012)
]))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
# VOC07 test, 11-point AP at IoU 0.50:0.05:0.95 as detectron2's VOC evaluator (MoCo):
# logs pascal_voc/AP50, pascal_voc/AP75, ... and pascal_voc/mAP = their mean ("AP")
val_evaluator = dict(iou_thrs=[round(0.5 + 0.05 * i, 2) for i in range(10)])
test_evaluator = val_evaluator

max_iter = 24000
train_cfg = dict(max_iters=max_iter, val_interval=4000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_iter, by_epoch=False, milestones=[18000, 22000],
         gamma=0.1),
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000, max_keep_ckpts=2))
auto_scale_lr = dict(enable=False, base_batch_size=16)
custom_imports = dict(imports=['selfemb.transfer.res_layer_extra_norm'],
                      allow_failed_imports=False)
