"""Head of NPID: non-parametric instance classification over a memory bank."""
from typing import Dict

import torch

from selfemb.registry import MODELS

from ..losses import estimate_log_z, memory_nce_loss, memory_softmax_loss
from ..utils import all_reduce_mean
from .base import InstanceBatch, InstanceHead, mean_over_views


@MODELS.register_module()
class NPIDHead(InstanceHead):
    """Instance discrimination against the bank (Wu et al., CVPR 2018).

    Reads ``batch.views``, ``batch.bank`` and ``batch.indices``; returns
    ``dict(loss=...)``, the loss of each view against the bank averaged over the views
    (one view in NPID; CLD's instance branch passes both, ``½ [C(f_I(x)) + C(f_I(x'))]``).

    Args:
        loss_type: ``'softmax'``: the full softmax over all N entries (AND's
            convention, τ = 0.1); ``'nce'``: NCE with ``num_negatives`` uniformly
            sampled noise entries (NPID's ImageNet setting: 4096, τ = 0.07), with the
            normalisation constant Z estimated once on the first batch and kept in
            buffers (``log_z`` and ``log_z_ready``, finite, so resume keeps them and the
            non-finite guard can check every buffer).
        temperature: τ.
        num_negatives: K for NCE.
    """

    def __init__(self, loss_type: str = 'softmax', temperature: float = 0.1,
                 num_negatives: int = 4096, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if loss_type not in ('softmax', 'nce'):
            raise ValueError(f"NPIDHead loss_type must be 'softmax' or 'nce', got {loss_type!r}")
        self.loss_type = loss_type
        self.temperature = temperature
        self.num_negatives = num_negatives
        self.register_buffer('log_z', torch.tensor(0.0))
        self.register_buffer('log_z_ready', torch.tensor(False))
        self._log_z_ready = False  # host copy of log_z_ready: no device read per step

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._log_z_ready = bool(self.log_z_ready)

    def loss(self, batch: InstanceBatch) -> Dict[str, torch.Tensor]:
        bank, indices = batch.require('bank', self), batch.require('indices', self)
        return dict(loss=mean_over_views(batch, lambda v: self.bank_loss(v, bank, indices)))

    def bank_loss(self, features: torch.Tensor, bank: torch.Tensor,
                  indices: torch.Tensor) -> torch.Tensor:
        """Loss of ``B x D`` embeddings whose own bank rows are ``indices``."""
        bank = bank.detach()
        if self.loss_type == 'softmax':
            return memory_softmax_loss(features, bank, indices, self.temperature)
        noise = torch.randint(0, bank.size(0), (features.size(0), self.num_negatives),
                              device=features.device)
        if not self._log_z_ready:
            log_z = estimate_log_z(features.detach(), bank, noise, self.temperature)
            self.log_z.copy_(all_reduce_mean(log_z))
            self.log_z_ready.fill_(True)
            self._log_z_ready = True
        return memory_nce_loss(features, bank, indices, noise, self.log_z, self.temperature)
