"""Head of InterCLR's two branches: MarginNCE (Xie et al., eq. 5)."""
import torch
from mmengine.model import BaseModule

from selfemb.registry import MODELS

from ..losses import margin_nce_loss


@MODELS.register_module()
class MarginNCEHead(BaseModule):
    """``margin_nce_loss(query, positive, negatives, margin, temperature)``.

    Args:
        margin: Cosine margin m on the positive logit (InterCLR: positive for the
            intra-image branch, -0.5 for the inter-image branch; 0 = InfoNCE).
        temperature: τ (0.1 in the paper; the released head uses 0.2).
    """

    def __init__(self, margin: float = 0.0, temperature: float = 0.1, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if temperature <= 0:
            raise ValueError(f'MarginNCEHead temperature must be > 0, got {temperature}')
        self.margin, self.temperature = margin, temperature

    def loss(self, query: torch.Tensor, positive: torch.Tensor,
             negatives: torch.Tensor) -> torch.Tensor:
        """Loss of ``B x D`` queries, ``B x D`` positives and ``B x K x D`` (or shared
        ``K x D``) negatives; positives and negatives receive no gradient."""
        return margin_nce_loss(query, positive.detach(), negatives.detach(), self.margin,
                               self.temperature)
