import math

import pytest
import torch
import torch.nn.functional as F

from selfemb.models.heads import InstanceSpreadHead, NPIDHead
from selfemb.models.losses import instance_spread_loss, memory_softmax_loss


def test_instance_spread_head_concatenates_views():
    torch.manual_seed(0)
    v1, v2 = F.normalize(torch.randn(4, 8), dim=1), F.normalize(torch.randn(4, 8), dim=1)
    head = InstanceSpreadHead(temperature=0.2, detach_key=False)
    assert torch.allclose(head.spread_loss(v1, v2),
                          instance_spread_loss(torch.cat([v1, v2]), 0.2, False))
    with pytest.raises(ValueError, match='shape'):
        head.spread_loss(v1, v2[:3])


def test_npid_head_softmax_and_nce():
    torch.manual_seed(0)
    bank = F.normalize(torch.randn(64, 8), dim=1)
    v = F.normalize(torch.randn(4, 8), dim=1)
    idx = torch.tensor([0, 1, 2, 3])
    soft = NPIDHead('softmax', temperature=0.1)
    assert torch.allclose(soft.bank_loss(v, bank, idx), memory_softmax_loss(v, bank, idx, 0.1))
    nce = NPIDHead('nce', temperature=0.07, num_negatives=16)
    assert not nce.log_z_ready
    loss = nce.bank_loss(v, bank, idx)
    assert torch.isfinite(loss) and nce.log_z_ready and torch.isfinite(nce.log_z)
    first_z = nce.log_z.clone()
    nce.bank_loss(v, bank, idx)
    assert torch.equal(nce.log_z, first_z)  # Z is estimated once, then fixed
    # Z in a sensible range: N * mean(exp(cos/τ)) with |cos| <= 1
    assert math.log(64) - 1 / 0.07 <= float(first_z) <= math.log(64) + 1 / 0.07
    assert {'log_z', 'log_z_ready'} <= set(nce.state_dict())


def test_npid_head_rejects_unknown_loss():
    with pytest.raises(ValueError, match="'softmax' or 'nce'"):
        NPIDHead('hinge')
