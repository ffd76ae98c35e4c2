# ISIF, unseen-category protocol on Stanford Online Products: train without labels on
# the 11,318 classes of Ebay_train.txt (59,551 images), Recall@1/10/100 and NMI on the
# 60,502 images of the 11,316 classes of Ebay_test.txt:
#   python tools/train.py configs/isif/r50_sop_unseen.py \
#     --cfg-options model.backbone.init_cfg.checkpoint=data/pretrained/resnet50_tv.pth
#   python tools/benchmarks/recall_at_k.py configs/isif/r50_sop_unseen.py \
#     work_dirs/r50_sop_unseen/epoch_60.pth
# Same recipe and backbone notes as r50_cub200_unseen.py (ImageNet ResNet-50 instead of
# Inception-V1, 256x256 -> random 227 crop + flip, lr 0.001 constant, bs 64, tau 0.1), but
# the positive is the other augmentation of the same image only: the paper and the
# released demo_unseen.py use nearest-neighbour positives on CUB-200 alone. To try them
# here, set model = dict(memory=dict(type='NeighbourPositiveMemory')) and custom_hooks =
# dict(neighbour_positive=dict(type='NeighbourPositiveHook')) in a config inheriting this
# one (neighbour_dataloader is already set).
_base_ = ['./r50_cub200_unseen.py']
data_root = 'data/Stanford_Online_Products'  # Ebay_train.txt, Ebay_test.txt, */
source = dict(type='StanfordOnlineProducts', data_root=data_root)  # splits train / test

model = dict(memory=None)
custom_hooks = dict(neighbour_positive=None)
train_dataloader = dict(dataset=dict(dataset=source))  # inside NeighbourPairDataset
neighbour_dataloader = dict(dataset=source)
recall_dataloader = dict(dataset=source)
recall_cfg = dict(ks=(1, 10, 100))
