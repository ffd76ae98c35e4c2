"""Non-parametric instance classification over a memory bank (Wu et al., CVPR 2018)."""
import torch
import torch.nn.functional as F


def memory_softmax_loss(features: torch.Tensor, bank: torch.Tensor, indices: torch.Tensor,
                        temperature: float = 0.1) -> torch.Tensor:
    """Full non-parametric softmax: ``-log softmax(v · Mᵀ / τ)[i]``, averaged over the batch.

    ``P(i|v) = exp(v·m_i/τ) / Σ_j exp(v·m_j/τ)`` over all ``N`` bank entries
    (the AND convention of NPID, τ = 0.1). The bank receives no gradient.
    """
    logits = features.float() @ bank.t().float() / temperature
    return F.cross_entropy(logits, indices)


def memory_nce_loss(features: torch.Tensor, bank: torch.Tensor, indices: torch.Tensor,
                    noise_indices: torch.Tensor, log_z: torch.Tensor,
                    temperature: float = 0.07) -> torch.Tensor:
    """NCE approximation of the non-parametric softmax (Wu et al. 2018, eq. 4–6).

    ``P(i|v) = exp(v·m_i/τ) / Z`` with ``Z`` a constant (given as ``log_z``);
    with ``K`` noise samples from the uniform ``P_n = 1/N`` and
    ``h(i, v) = P(i|v) / (P(i|v) + K P_n)``, the loss is
    ``-log h(i, v) - Σ_{k=1..K} log(1 - h(i_k, v))`` averaged over the batch.

    Args:
        features: ``B x D`` embeddings.
        bank: ``N x D`` memory.
        indices: ``B`` positive entries.
        noise_indices: ``B x K`` noise entries drawn uniformly from the bank.
        log_z: Scalar log normalisation constant.
        temperature: τ (0.07 in NPID).
    """
    n, k = bank.size(0), noise_indices.size(1)
    idx = torch.cat([indices[:, None], noise_indices], dim=1)
    logits = torch.einsum('bd,bkd->bk', features.float(), bank[idx].float()) / temperature
    log_p = logits - log_z
    log_noise = torch.full((), k / n, device=features.device).log()  # no host copy
    # log h = log P - log(P + K/N); log(1 - h) = log(K/N) - log(P + K/N)
    log_denominator = torch.logaddexp(log_p, log_noise.expand_as(log_p))
    log_h_pos = log_p[:, 0] - log_denominator[:, 0]
    log_1m_h_neg = log_noise - log_denominator[:, 1:]
    return -(log_h_pos + log_1m_h_neg.sum(1)).mean()


def estimate_log_z(features: torch.Tensor, bank: torch.Tensor, noise_indices: torch.Tensor,
                   temperature: float) -> torch.Tensor:
    """NPID's one-off estimate ``Z ≈ N · mean(exp(v·m_k/τ))`` over the noise samples."""
    logits = torch.einsum('bd,bkd->bk', features.float(), bank[noise_indices].float())
    log_mean = torch.logsumexp((logits / temperature).flatten(), 0) - torch.full(
        (), float(logits.numel()), device=logits.device).log()
    return log_mean + torch.full((), float(bank.size(0)), device=logits.device).log()
