from .class_balanced_sampler import ClassBalancedSampler, balanced_indices

__all__ = ['ClassBalancedSampler', 'balanced_indices']
