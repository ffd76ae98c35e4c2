"""Feature bank + pseudo-labels kept by online mini-batch k-means (InterCLR, ODC).

Xie et al., "Delving into Inter-Image Invariance for Unsupervised Visual
Representations", §3.1 (the memory of Zhan et al., ODC, CVPR 2020).
"""
from typing import Optional

import torch

from selfemb.registry import MODELS

from ..utils.clustering import cluster_means, label_counts, nearest_centroid, split_largest
from .simple_memory import SimpleMemory


@MODELS.register_module()
class ODCMemory(SimpleMemory):
    """An NPID bank (:class:`SimpleMemory`) plus a pseudo-label per row and ``k`` centroids.

    Registered buffers (checkpoints carry them, ``--resume`` restores them):
    ``bank`` ``N x D``, ``labels`` ``N`` int64, ``centroids`` ``k x D``, ``num_updates``
    (flushed batches since set-up) and ``initialized`` (the initial global k-means has
    been installed, so it is not run again on resume).

    Every iteration (:meth:`flush` of the queued, all-gathered batch), after the bank rows
    are blended (``m_i <- normalise(μ m_i + (1-μ) v_i)``, μ weights the OLD entry; μ = 0
    replaces the row, as the official release), each row of the batch is relabelled to
    its nearest centroid (squared Euclidean distance, paper §3.1). Small clusters are
    refilled every ``small_cluster_interval`` flushes (:meth:`refill_clusters`):

    1. members of every non-empty cluster with fewer than ``min_cluster`` members are
       relabelled to their nearest centroid among the clusters with at least
       ``min_cluster`` members (those clusters become empty);
    2. every empty cluster, in increasing id order, takes half of the currently largest
       cluster (:func:`~selfemb.models.utils.clustering.split_largest`: the half on the
       side of its member farthest from its mean; deterministic);
    3. the centroids of the clusters whose members changed are re-averaged.

    Every ``interval`` flushes all centroids are re-averaged over the whole bank
    (:meth:`update_centroids`, steps 1-2 first, with the fresh means in step 1).

    Ranks all apply the same gathered batch with deterministic operations, so bank,
    labels and centroids stay identical everywhere without any broadcast.

    Host synchronisation: a flush (inside the training step) blends, relabels and
    re-averages on the device with static shapes. Steps 1-2 are sequential and
    data-dependent, so whether a cluster is small is decided on the host; a host-side
    lower bound of the smallest cluster (its size at the last read, minus the rows
    relabelled since, each of which may have left it) skips that read while it proves
    every cluster has ``min_cluster`` members. Otherwise the smallest size is read (one
    synchronisation) and, if some cluster is small, refilled (several). The initialised
    flag and the flush count are mirrored on the host (restored on load).

    Args:
        feat_dim: D. momentum: weight of the old bank entry (0.5; 0 = replace).
        num_clusters: k (10,000 for ImageNet); must be <= the dataset size.
        interval: Flushes between centroid updates (1 = every iteration; official 10).
        min_cluster: Clusters smaller than this are refilled (1: only empty ones;
            official 20); ``num_clusters * min_cluster`` must not exceed the dataset.
        small_cluster_interval: Flushes between small-cluster refills (official 1).
    """

    def __init__(self, feat_dim: int = 128, momentum: float = 0.5, num_clusters: int = 10000,
                 interval: int = 1, min_cluster: int = 1, small_cluster_interval: int = 1,
                 init_cfg=None) -> None:
        super().__init__(feat_dim=feat_dim, momentum=momentum, init_cfg=init_cfg)
        if num_clusters < 2 or interval < 1 or min_cluster < 1 or small_cluster_interval < 1:
            raise ValueError(f'ODCMemory needs num_clusters >= 2, interval >= 1, '
                             f'min_cluster >= 1 and small_cluster_interval >= 1, got '
                             f'num_clusters={num_clusters}, interval={interval}, '
                             f'min_cluster={min_cluster}, '
                             f'small_cluster_interval={small_cluster_interval}')
        self.num_clusters, self.interval, self.min_cluster = num_clusters, interval, min_cluster
        self.small_cluster_interval = small_cluster_interval
        self.register_buffer('labels', torch.zeros(0, dtype=torch.long))
        self.register_buffer('centroids', torch.zeros(num_clusters, feat_dim))
        self.register_buffer('num_updates', torch.tensor(0, dtype=torch.long))
        self.register_buffer('initialized', torch.tensor(False))
        # of the last relabelled batch; a buffer so the first value logged after
        # --resume is the uninterrupted run's
        self.register_buffer('label_change', torch.tensor(0.0))
        self._set_host_state(initialized=False, num_updates=0)

    def setup(self, num_samples: int, seed: Optional[int] = None) -> None:
        """Random unit bank (as :class:`SimpleMemory`), all labels 0, not initialised."""
        if self.num_clusters > num_samples:
            raise ValueError(f'ODCMemory num_clusters={self.num_clusters} exceeds the '
                             f'{num_samples} training samples; lower num_clusters')
        if self.num_clusters * self.min_cluster > num_samples:
            raise ValueError(f'ODCMemory num_clusters={self.num_clusters} x min_cluster='
                             f'{self.min_cluster} exceeds the {num_samples} training '
                             f'samples (some cluster would always be refilled); lower '
                             f'min_cluster or num_clusters')
        super().setup(num_samples, seed)
        device = self.bank.device
        self.labels = torch.zeros(num_samples, dtype=torch.long, device=device)
        self.centroids = torch.zeros(self.num_clusters, self.feat_dim, device=device)
        self.num_updates = torch.tensor(0, dtype=torch.long, device=device)
        self.initialized = torch.tensor(False, device=device)
        self.label_change = torch.tensor(0.0, device=device)
        self._set_host_state(initialized=False, num_updates=0)

    def _set_host_state(self, initialized: bool, num_updates: int, min_size: int = 0) -> None:
        """Host copies of ``initialized`` and ``num_updates`` (read without a device
        synchronisation) and ``min_size``, a lower bound of the smallest cluster's size
        (0: unknown); no batch queued (``_queued``: whether one is, known on the host)."""
        self._initialized, self._num_updates, self._min_size = initialized, num_updates, min_size
        self._queued = False

    @property
    def is_initialized(self) -> bool:
        """Whether the initial clustering is installed (host copy of ``initialized``)."""
        return self._initialized

    def known_nonempty(self) -> bool:
        """Whether every cluster is known on the host to have a member (no device read)."""
        return self._min_size >= 1

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._set_host_state(bool(self.initialized), int(self.num_updates))

    def _check_setup(self) -> None:
        if self.labels.numel() == 0:
            raise RuntimeError('ODCMemory is not set up: add MemoryInitHook to default_hooks '
                               'so the bank is sized from the dataset')

    @torch.no_grad()
    def init_clusters(self, labels: torch.Tensor, features: Optional[torch.Tensor] = None) -> None:
        """Install the initial clustering: optional bank ``features`` (``N x D``, written
        L2-normalised), ``labels`` (``N``) from a global k-means; small clusters are
        refilled and the centroids computed. Identical inputs on every rank give
        identical state."""
        self._check_setup()
        self.flush()
        n = self.labels.numel()
        if labels.shape != (n, ):
            raise ValueError(f'ODCMemory.init_clusters needs {n} labels, got {tuple(labels.shape)}')
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_clusters):
            raise ValueError(f'initial labels must be in [0, {self.num_clusters}), got '
                             f'[{int(labels.min())}, {int(labels.max())}]')
        if features is not None:
            if features.shape != self.bank.shape:
                raise ValueError(f'ODCMemory.init_clusters: features of shape '
                                 f'{tuple(features.shape)} for a bank of {tuple(self.bank.shape)}')
            self.bank.copy_(torch.nn.functional.normalize(features.float(), dim=1))
        self.labels.copy_(labels)
        self._min_size = 0
        self.update_centroids()
        self.initialized.fill_(True)
        self._initialized = True

    @torch.no_grad()
    def update(self, indices: torch.Tensor, features: torch.Tensor) -> None:
        super().update(indices, features)
        self._queued = True

    def _flush_before_queue(self) -> None:
        if self._queued:  # a batch queued and not flushed: written and relabelled first
            self.flush()

    @torch.no_grad()
    def flush(self) -> None:
        """Blend the queued rows and relabel them; every ``interval`` flushes re-average
        the centroids, else every ``small_cluster_interval`` flushes refill small clusters."""
        if not self._queued:
            return
        self._queued = False
        super().flush()
        if not self._initialized:
            return
        self.relabel(self.pending_indices, self.pending_first)
        self.num_updates += 1
        self._num_updates += 1
        step = self._num_updates
        if step % self.interval == 0:
            self.update_centroids()
        elif step % self.small_cluster_interval == 0:
            self.refill_clusters()

    @torch.no_grad()
    def relabel(self, indices: torch.Tensor, counted: Optional[torch.Tensor] = None) -> None:
        """Assign the bank rows ``indices`` to their nearest centroid; the fraction whose
        label changed is kept in :attr:`label_change` (for logging), over the positions
        ``counted`` (bool, default all: the first occurrence of each row of a batch with
        repeated rows). Each relabelled row may leave the smallest cluster: the host
        bound of its size drops by ``len(indices)``."""
        new = nearest_centroid(self.bank[indices], self.centroids)
        changed = new != self.labels[indices]
        if counted is None:
            self.label_change = changed.float().mean()
        else:
            self.label_change = (changed & counted).sum().float() / counted.sum().float()
        self.labels[indices] = new  # a repeated row writes the same label
        self._min_size = max(0, self._min_size - indices.numel())

    def _may_have_small(self, counts: torch.Tensor) -> bool:
        """Whether a cluster may have fewer than ``min_cluster`` members: ``False`` from
        the host bound alone when it suffices, else the smallest of ``counts`` is read
        (one host synchronisation) and becomes the bound."""
        if self._min_size >= self.min_cluster:
            return False
        self._min_size = int(counts.min())
        return self._min_size < self.min_cluster

    @torch.no_grad()
    def refill_clusters(self, centroids: Optional[torch.Tensor] = None) -> int:
        """Steps 1-2 of the class docstring: small clusters dissolved into their nearest
        big cluster by ``centroids`` (default: the current ones), empty clusters refilled.
        Without ``centroids`` (step 3) the clusters whose members changed are re-averaged.
        Returns how many clusters were refilled."""
        self._check_setup()
        k = self.num_clusters
        counts = self.cluster_sizes()
        if not self._may_have_small(counts):
            return 0
        small = (counts > 0) & (counts < self.min_cluster)
        before = self.labels.clone()
        if bool(small.any()):
            big = counts >= self.min_cluster
            if not bool(big.any()):
                raise RuntimeError(f'every cluster has fewer than min_cluster='
                                   f'{self.min_cluster} members; lower min_cluster')
            moving = torch.nonzero(small[self.labels]).squeeze(1)
            self.labels[moving] = nearest_centroid(
                self.bank[moving], self.centroids if centroids is None else centroids, big)
            counts = self.cluster_sizes()
        empty = torch.nonzero(counts == 0).squeeze(1).tolist()
        for target in empty:
            split_largest(self.bank, self.labels, counts, target)
        if centroids is None:
            changed = self.labels != before
            touched = torch.unique(torch.cat([before[changed], self.labels[changed]]))
            rows = torch.isin(self.labels, touched)
            means, _ = cluster_means(self.bank[rows], self.labels[rows], k, self.centroids)
            self.centroids[touched] = means[touched]
        self._min_size = int(counts.min())  # split_largest kept counts up to date
        return len(empty)

    @torch.no_grad()
    def update_centroids(self) -> int:
        """Refill small / empty clusters, then re-average every centroid over the bank.
        Returns how many clusters were refilled."""
        self._check_setup()
        means, counts = cluster_means(self.bank, self.labels, self.num_clusters,
                                      self.centroids)
        refilled = 0
        if self._may_have_small(counts):
            refilled = self.refill_clusters(means)
            means, _ = cluster_means(self.bank, self.labels, self.num_clusters,
                                     self.centroids)
        self.centroids.copy_(means)
        return refilled

    def cluster_sizes(self) -> torch.Tensor:
        """Members per cluster (``k`` int64) under the current labels."""
        self._check_setup()
        return label_counts(self.labels, self.num_clusters)
