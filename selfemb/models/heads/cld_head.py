"""Head of CLD's group branch: batch k-means of each view, then the cross-level loss."""
from typing import Tuple

import torch
from mmengine.model import BaseModule

from selfemb.registry import MODELS

from ..losses import cross_level_loss
from ..utils import centroids_from_labels, global_batch_kmeans, spherical_kmeans
from ..utils.kmeans import mean_centroids, release_kmeans


@MODELS.register_module()
class CLDHead(BaseModule):
    """Cross-level discrimination (Wang, Liu, Yu, CVPR 2021, eq. 2-3).

    Each step, view 1's group features are clustered into ``num_groups`` groups by
    spherical k-means (centroids ``M``, labels ``Γ``) and, separately, view 2's
    (``M'``, ``Γ'``); the loss is
    ``½ [CE(f_G(x') Mᵀ / T_G, Γ) + CE(f_G(x) M'ᵀ / T_G, Γ')]``
    (:func:`selfemb.models.losses.cross_level_loss`). The labels come from the k-means
    without gradient; the centroids are then rebuilt from them as
    ``M = normalise(one_hot(Γ)ᵀ f_G(x))`` WITH gradient, as the official code lets the
    loss differentiate through its (un-normalised mean) centroids. No state: nothing to
    resume.

    Args:
        num_groups: k. Must not exceed the samples clustered (the per-rank batch, or the
            global batch with ``global_batch=True``); otherwise a ``ValueError``.
        temperature: T_G.
        num_iters: Lloyd iterations per clustering.
        global_batch: Cluster the batch all-gathered over ranks (identical centroids on
            every rank, each rank keeps its own rows' labels) instead of each rank's own
            batch (the official code's behaviour). The centroids' gradient then reaches
            every rank's features (a differentiable all-reduce of the member sums).
        detach_centroids: Use the k-means centroids as constants (gradient through the
            group features of the classified view only). ``False`` is the official code.
        centroids: ``'normalised'`` (default): the spherical k-means above and
            ``M = normalise(one_hot(Γ)ᵀ f_G)``. ``'release'``: the official code's k-means
            and centroids (:func:`~selfemb.models.utils.kmeans.release_kmeans`: first
            ``k`` rows as init, Euclidean assignment, no re-seeding) and
            ``M = one_hot(Γ)ᵀ f_G / max(count, 1)``, the plain member means (norm below
            1, zero for an empty cluster), differentiable unless ``detach_centroids``.
    """

    def __init__(self, num_groups: int = 128, temperature: float = 0.2, num_iters: int = 5,
                 global_batch: bool = False, detach_centroids: bool = False,
                 centroids: str = 'normalised', init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_groups < 1 or num_iters < 1 or temperature <= 0:
            raise ValueError(f'CLDHead needs num_groups >= 1, num_iters >= 1, temperature > 0;'
                             f' got {num_groups}, {num_iters}, {temperature}')
        if centroids not in ('normalised', 'release'):
            raise ValueError(f"CLDHead centroids must be 'normalised' or 'release', "
                             f'got {centroids!r}')
        self.centroids = centroids
        self.num_groups = num_groups
        self.temperature = temperature
        self.num_iters = num_iters
        self.global_batch = global_batch
        self.detach_centroids = detach_centroids

    def cluster(self, group: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(centroids, labels)`` of one view's group features; the labels carry no
        gradient, the centroids do unless ``detach_centroids``."""
        if self.centroids == 'release':
            return self._release_cluster(group)
        kmeans = global_batch_kmeans if self.global_batch else spherical_kmeans
        centroids, labels = kmeans(group.detach(), self.num_groups, self.num_iters)
        if self.detach_centroids:
            return centroids, labels
        group = group if group.dtype == torch.float64 else group.float()
        return centroids_from_labels(group, labels, self.num_groups, self.global_batch), labels

    def _release_cluster(self, group: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``centroids='release'``: the official k-means and plain-mean centroids."""
        if self.global_batch:
            centroids, labels = global_batch_kmeans(group.detach(), self.num_groups,
                                                    self.num_iters, kmeans=release_kmeans)
        else:
            centroids, labels = release_kmeans(group.detach(), self.num_groups, self.num_iters)
        if self.detach_centroids:
            return centroids, labels
        group = group if group.dtype == torch.float64 else group.float()
        return mean_centroids(group, labels, self.num_groups, self.global_batch), labels

    def loss(self, group1: torch.Tensor, group2: torch.Tensor) -> torch.Tensor:
        """The cross-level loss of the two views' ``B x D`` group features."""
        centroids1, labels1 = self.cluster(group1)
        centroids2, labels2 = self.cluster(group2)
        return cross_level_loss(group1, group2, centroids1, labels1, centroids2, labels2,
                                self.temperature, self.detach_centroids)
