"""MoCo's InfoNCE against a queue of keys (He et al., CVPR 2020), CLDm's instance branch."""
import torch
import torch.nn.functional as F


def queue_infonce_loss(query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor,
                       temperature: float = 0.2) -> torch.Tensor:
    """``-log exp(q·k⁺/τ) / (exp(q·k⁺/τ) + Σ_{k⁻ ∈ queue} exp(q·k⁻/τ))``, batch mean.

    Args:
        query: ``B x D`` L2-normalised queries (gradient flows here).
        key: ``B x D`` L2-normalised positive keys of the same images (detached).
        queue: ``K x D`` negative keys of earlier batches (detached).
        temperature: τ.
    """
    positive = (query.float() * key.detach().float()).sum(1, keepdim=True)
    negative = query.float() @ queue.detach().float().t()
    logits = torch.cat([positive, negative], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(query), dtype=torch.long,
                                               device=query.device))
