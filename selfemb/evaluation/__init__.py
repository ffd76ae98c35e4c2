"""Evaluation: feature extraction (the one path of hooks, tools and API), weighted kNN,
faiss k-means, NMI, Recall@K, CLD's model-selection score and the VOC07 SVM benchmark."""
from .feature_files import load_features, load_npy_pair
from .features import LAYERS, dataset_labels, extract_embeddings, extract_features
from .kmeans import faiss_kmeans
from .knn import knn_evaluate, weighted_knn
from .loaders import resolve_loader_cfg
from .model_selection import cld_model_selection_score
from .retrieval import cross_view_top1, kmeans_labels, nmi_kmeans, recall_at_k
from .svm import low_shot_svm, train_eval_svm, voc_ap

__all__ = [
    'weighted_knn', 'knn_evaluate', 'extract_embeddings', 'extract_features', 'LAYERS',
    'dataset_labels', 'load_features', 'load_npy_pair', 'resolve_loader_cfg', 'faiss_kmeans',
    'nmi_kmeans', 'kmeans_labels', 'recall_at_k', 'cross_view_top1',
    'cld_model_selection_score', 'voc_ap', 'train_eval_svm', 'low_shot_svm'
]
