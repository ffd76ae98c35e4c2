"""UIC's representation-learning loss (Chen et al., ECCVW 2020, eq. 6)."""
import torch
import torch.nn.functional as F


def pseudo_label_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the classifier on an augmented view against its pseudo label.

    UIC eq. 6: ``min_θ' 1/N Σ_n l(y_n, f'_θ'(t_2(x_n)))`` with ``l`` the softmax
    cross-entropy, here over a batch of B samples::

        L = -1/B Σ_b log softmax(z_b)[y_b]

    where ``z_b`` are the ``K`` logits of view ``t_2(x_b)`` and ``y_b`` its pseudo label,
    the argmax of the same classifier on another view ``t_1(x_b)`` from the previous
    epoch (eq. 5).

    Args:
        logits: ``B x K`` classifier outputs.
        labels: ``B`` int64 pseudo labels in ``[0, K)``.
    """
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f'pseudo_label_loss needs B x K logits and B labels, got '
                         f'{tuple(logits.shape)} and {tuple(labels.shape)}')
    return F.cross_entropy(logits.float(), labels)
