"""NPID: Unsupervised Feature Learning via Non-Parametric Instance Discrimination.

Wu, Xiong, Yu, Lin, CVPR 2018. Each image is its own class; the class "weights" are a
memory bank of the images' past embeddings (``SimpleMemory``), so the classifier is
``softmax(v · Mᵀ / τ)`` over all N training images (or its NCE approximation). The
bank is updated with the batch's embeddings after the loss.
"""
from selfemb.registry import MODELS

from .instance import InstanceAlgorithm


@MODELS.register_module()
class NPID(InstanceAlgorithm):
    """Memory-bank instance discrimination (``head``: NPIDHead, ``memory``: SimpleMemory;
    1 view)."""
