"""Head of ISIF (Ye et al., CVPR 2019)."""
import torch
from mmengine.model import BaseModule

from selfemb.registry import MODELS

from ..losses import instance_spread_loss


@MODELS.register_module()
class InstanceSpreadHead(BaseModule):
    """In-batch instance softmax over two views; see :func:`instance_spread_loss`.

    Args:
        temperature: τ (0.1 in the paper).
        detach_key: Gradient through the anchor side only (the official code's
            convention, default ``True``).
    """

    def __init__(self, temperature: float = 0.1, detach_key: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.temperature = temperature
        self.detach_key = detach_key

    def loss(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        """Loss of the ``B x D`` embeddings of two views of the same ``B`` images."""
        if view1.shape != view2.shape:
            raise ValueError(f'views differ in shape: {tuple(view1.shape)} vs '
                             f'{tuple(view2.shape)}')
        return instance_spread_loss(torch.cat([view1, view2]), self.temperature,
                                    self.detach_key)
