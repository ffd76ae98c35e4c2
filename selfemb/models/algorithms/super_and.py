"""Super-AND: A Holistic Approach to Unsupervised Embedding Learning.

Han et al., 2020 (code: github.com/super-AND/super-AND). AND's rounds and memory-bank
classifier with two augmented views of every image embedded in one forward
(``[x_1..x_B, x̂_1..x̂_B]``, as the official code) by a two-trunk RGB + Sobel backbone
(``SobelResNet``); the three loss terms of eq. 6 are :class:`SuperANDHead`'s.

The bank is updated after the step with view 1's embedding (``m_i <- normalise(μ m_i +
(1-μ) v_i)``): the official code writes both views' updates, each blended with the old
entry, to the same row with one ``index_copy_``, so one of them survives arbitrarily;
here it is always view 1.
"""
from selfemb.registry import MODELS

from .and_algorithm import AND


@MODELS.register_module()
class SuperAND(AND):
    """Super-AND (``backbone``: SobelResNet, ``head``: SuperANDHead, ``memory``:
    NeighbourhoodMemory, ``method_hooks``: NeighbourhoodDiscoveryHook; 2 views)."""

    default_views = 2
