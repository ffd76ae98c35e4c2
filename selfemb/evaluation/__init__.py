"""Evaluation: weighted kNN, feature extraction, NMI, Recall@K, CLD's model-selection
score and the VOC07 SVM benchmark."""
from .knn import extract_embeddings, weighted_knn
from .model_selection import cld_model_selection_score
from .retrieval import cross_view_top1, kmeans_labels, nmi_kmeans, recall_at_k
from .svm import low_shot_svm, train_eval_svm, voc_ap

__all__ = [
    'weighted_knn', 'extract_embeddings', 'nmi_kmeans', 'kmeans_labels', 'recall_at_k',
    'cross_view_top1', 'cld_model_selection_score', 'voc_ap', 'train_eval_svm',
    'low_shot_svm'
]
