"""Evaluation: weighted kNN and feature extraction."""
from .knn import extract_embeddings, weighted_knn

__all__ = ['weighted_knn', 'extract_embeddings']
