from .class_balanced_sampler import ClassBalancedSampler, balanced_indices
from .resumable_sampler import ResumableSampler

__all__ = ['ClassBalancedSampler', 'balanced_indices', 'ResumableSampler']
