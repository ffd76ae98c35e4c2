"""Heads by loss family; each takes tensors and owns its loss terms and temperatures.

* instance family (:class:`InstanceHead`, ``loss(InstanceBatch) -> dict``): ISIF, NPID,
  AND, Super-AND, CLD's instance branch;
* MarginNCE / InfoNCE family (``loss(query, positive, negatives) -> tensor``): InterCLR's
  two branches, CLDm's instance branch;
* group family (``loss(group1, group2) -> tensor``): CLD / CLDm's group branch;
* classifier family (``forward(features) -> logits``, ``loss(logits, labels)``): UIC.
"""
from .and_head import ANDHead
from .base import InstanceBatch, InstanceHead
from .cld_head import CLDHead
from .instance_spread_head import InstanceSpreadHead
from .margin_nce_head import MarginNCEHead
from .npid_head import NPIDHead
from .super_and_head import SuperANDHead
from .uic_head import UICHead

__all__ = ['InstanceBatch', 'InstanceHead', 'ANDHead', 'SuperANDHead', 'InstanceSpreadHead',
           'NPIDHead', 'MarginNCEHead', 'UICHead', 'CLDHead']
