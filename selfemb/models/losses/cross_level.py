"""Cross-level discrimination between instances and groups (Wang, Liu, Yu, CVPR 2021)."""
import torch
import torch.nn.functional as F


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype == torch.float64 else x.float()


def cross_level_loss(group1: torch.Tensor, group2: torch.Tensor, centroids1: torch.Tensor,
                     labels1: torch.Tensor, centroids2: torch.Tensor, labels2: torch.Tensor,
                     temperature: float = 0.2, detach_centroids: bool = False) -> torch.Tensor:
    """CLD's cross-level term (paper eq. 2-3, mean over the batch instead of the sum)::

        L = ½ [ CE(f_G(x') Mᵀ / T_G, Γ) + CE(f_G(x) M'ᵀ / T_G, Γ') ]

    ``(M, Γ)`` are the centroids / labels of the k-means of view 1's group features
    ``f_G(x)``, ``(M', Γ')`` those of view 2's ``f_G(x')``: each view is classified
    against the OTHER view's centroids with the other view's cluster of the same image
    as target. Gradient flows through the group features and, if they carry one, through
    the centroids (the official code: ``M`` is a mean of the live features, so each view
    is also pulled by the other view's loss); ``detach_centroids`` stops it there.

    Args:
        group1, group2: ``B x D`` L2-normalised group features of views 1 and 2.
        centroids1, labels1: ``k x D`` centroids and ``B`` labels from view 1.
        centroids2, labels2: the same from view 2.
        temperature: T_G (0.2 in the paper).
        detach_centroids: Treat the centroids as constants.
    """
    if group1.shape != group2.shape:
        raise ValueError(f'the two views have different shapes: {tuple(group1.shape)} vs '
                         f'{tuple(group2.shape)}')
    if detach_centroids:
        centroids1, centroids2 = centroids1.detach(), centroids2.detach()
    g1, g2 = _at_least_fp32(group1), _at_least_fp32(group2)
    logits2 = g2 @ centroids1.to(g2.dtype).t() / temperature
    logits1 = g1 @ centroids2.to(g1.dtype).t() / temperature
    return 0.5 * (F.cross_entropy(logits2, labels1) + F.cross_entropy(logits1, labels2))
