"""CLD's unsupervised model-selection score NMI(f, f') * R(f, f').

Wang, Liu & Yu, "Unsupervised Feature Learning by Cross-Level Discrimination between
Instances and Groups", CVPR 2021, Sec. 4 ("Global- and instance-level mutual information"
and "Unsupervised hyper-parameter tuning for self-supervision", Fig. 7). The paper
defines, for features f and class labels Y,

    NMI(f, Y) = I(C|f; Y) / sqrt(H(C|f) H(Y)),   C = k-means cluster labels of f,
    R(f, Y)   = top-1 retrieval accuracy,

and for model selection without labels replaces Y by f', the features of a second
augmented view x' of the same images: NMI(f, f') compares the k-means clusters of f
with those of f', and R(f, f') counts a query f(x_i) as correct when its nearest
f'(x_j) is its own view, j = i. The score is their product; higher is better. The paper
gives neither k nor the views; here k is an argument (use a number close to the
expected number of classes) and the views are whatever the caller extracted (e.g. the
training augmentation applied twice with different seeds).
"""
from typing import Dict, Optional

from .retrieval import ArrayLike, _as_features, cross_view_top1, kmeans_labels


def cld_model_selection_score(features: ArrayLike, features_other: ArrayLike, k: int,
                              seed: int = 0, niter: int = 20, nredo: int = 1,
                              chunk_size: Optional[int] = None) -> Dict[str, float]:
    """NMI(f, f') * R(f, f') of CLD (CVPR 2021, Sec. 4, Fig. 7).

    Args:
        features: f, (N, D) features of one view of N images.
        features_other: f', (N, D) features of another view of the same N images, row i
            of both being image i.
        k: number of k-means clusters for both views.
        seed, niter, nredo: faiss k-means seed, Lloyd iterations and restarts (the same
            for both views).
        chunk_size: queries per similarity chunk of the retrieval.

    Returns:
        ``dict(nmi=NMI(f, f'), retrieval=R(f, f'), score=their product)``, all in [0, 1].
    """
    from sklearn.metrics import normalized_mutual_info_score
    f = _as_features(features)
    g = _as_features(features_other, 'features_other')
    if f.shape != g.shape:
        raise ValueError(f'features {f.shape} and features_other {g.shape} must have the '
                         'same shape (row i = the two views of image i)')
    clusters_f = kmeans_labels(f, k, seed=seed, niter=niter, nredo=nredo)
    clusters_g = kmeans_labels(g, k, seed=seed, niter=niter, nredo=nredo)
    nmi = float(normalized_mutual_info_score(clusters_g, clusters_f,
                                             average_method='geometric'))
    retrieval = cross_view_top1(f, g, chunk_size)
    return dict(nmi=nmi, retrieval=retrieval, score=nmi * retrieval)
