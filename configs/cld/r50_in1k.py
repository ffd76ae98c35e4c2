# CLD (NPID + cross-level discrimination), ImageNet-1k: the ImageNet-100 recipe of
# r50_in100.py (lambda 0.25, T_G 0.2, k 30 per GPU, NPID NCE tau 0.07) on the full
# training list; the bank has len(dataset) rows. Paper: linear top-1 60.6 (CLDm 63.4).
#   tools/dist_train.sh configs/cld/r50_in1k.py 8
_base_ = ['./r50_in100.py']
data_root = 'data/imagenet'
train_dataloader = dict(dataset=dict(data_root=data_root))
knn_train_dataloader = dict(dataset=dict(data_root=data_root))
knn_val_dataloader = dict(dataset=dict(data_root=data_root))
