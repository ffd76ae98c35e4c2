# ISIF's unseen-category protocol on Fashion-MNIST: train on classes 0-4 only (T-shirt,
# trouser, pullover, dress, coat; labels never used), monitor kNN on the test images of
# the same classes, and measure Recall@1/2/4/8 + NMI on the test images of the unseen
# classes 5-9 (sandal, shirt, sneaker, bag, ankle boot):
#   python tools/train.py configs/isif/r18_fmnist_unseen.py
#   python tools/benchmarks/recall_at_k.py configs/isif/r18_fmnist_unseen.py \
#     work_dirs/r18_fmnist_unseen/epoch_20.pth
# Same recipe as configs/isif/r18_fmnist.py (ResNet-18, tau 0.1, bs 128, 20 epochs).
_base_ = ['./r18_fmnist.py']
seen = dict(classes=[0, 1, 2, 3, 4])
unseen = dict(classes=[5, 6, 7, 8, 9])


def _source(split, classes):
    return dict(type='FashionMNIST', data_root={{_base_.data_root}}, split=split,
                filter_cfg=classes, device='auto')


train_dataloader = dict(dataset=_source('train', seen))
knn_train_dataloader = dict(dataset=_source('train', seen))
knn_val_dataloader = dict(dataset=_source('test', seen))
# read by tools/benchmarks/recall_at_k.py: the unseen classes' test images
recall_dataloader = dict(
    batch_size=512,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='selfemb.device_collate'),
    dataset=_source('test', unseen))
recall_cfg = dict(ks=(1, 2, 4, 8), feature='embedding')
