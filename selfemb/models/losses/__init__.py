"""Losses as pure functions; heads are thin registered wrappers around them."""
from .cross_level import cross_level_loss
from .instance_spread import instance_spread_anchor_loss, instance_spread_loss
from .margin_nce import margin_nce_loss
from .memory_nce import estimate_log_z, memory_nce_loss, memory_softmax_loss
from .neighbourhood import neighbourhood_loss
from .pseudo_label import pseudo_label_loss
from .super_and import augmentation_loss, ue_weight, uniform_entropy_loss

__all__ = ['instance_spread_loss', 'instance_spread_anchor_loss', 'memory_softmax_loss',
           'memory_nce_loss', 'estimate_log_z', 'augmentation_loss', 'uniform_entropy_loss',
           'ue_weight', 'neighbourhood_loss', 'margin_nce_loss', 'pseudo_label_loss',
           'cross_level_loss']
