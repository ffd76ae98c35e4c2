"""AND: Unsupervised Deep Learning by Neighbourhood Discovery.

Huang, Dong, Gong, Zhu, ICML 2019. NPID's non-parametric classifier
``p_i = softmax(v_i · Mᵀ / τ)`` over a memory bank of all N images, trained in rounds:
round 0 is plain instance discrimination; before each later round r,
``NeighbourhoodDiscoveryHook`` picks the lowest-entropy fraction ``min(r · 0.25, 1)`` of
the samples as anchors with their nearest neighbour, and an anchor is then classified
into its whole neighbourhood (Super-AND eq. 10)::

    L = mean_i  -log(p_ii + Σ_{j∈N(i)} p_ij)   (anchors)   |   -log p_ii   (others)

The bank is updated after the step like NPID's (``m_i <- normalise(μ m_i + (1-μ) v_i)``,
μ = 0.5 weights the old entry).
"""
from selfemb.registry import MODELS

from ..memories import NeighbourhoodMemory
from .instance import InstanceAlgorithm


@MODELS.register_module(name='AND')
class AND(InstanceAlgorithm):
    """Anchor neighbourhood discovery (``head``: ANDHead, ``memory``: NeighbourhoodMemory,
    ``method_hooks``: NeighbourhoodDiscoveryHook; 1 view). The head receives the bank,
    the batch's neighbourhoods and the epoch within the round."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.memory, NeighbourhoodMemory):
            raise TypeError(f'{type(self).__name__} needs memory=dict(type='
                            f"'NeighbourhoodMemory'), got {type(self.memory).__name__}")
