"""ISIF: Unsupervised Embedding Learning via Invariant and Spreading Instance Feature.

Ye, Zhang, Yuen, Chang, CVPR 2019. Two augmented views of every image in the batch are
embedded together (one forward of ``2B`` images, as the official code does) and the
``2B`` L2-normalised features are trained with the in-batch instance loss of eq. 7
(see :func:`selfemb.models.losses.instance_spread_loss`). No memory bank.
"""
from selfemb.registry import MODELS

from .instance import InstanceAlgorithm


@MODELS.register_module()
class ISIF(InstanceAlgorithm):
    """Invariant and spreading instance feature learning (``head``: InstanceSpreadHead;
    2 views; no memory bank)."""

    default_views = 2
