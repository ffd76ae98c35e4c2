"""Parameter schedulers selfemb adds to mmengine's."""
from .round_multistep_lr import RoundMultiStepLR, RoundMultiStepParamScheduler

__all__ = ['RoundMultiStepLR', 'RoundMultiStepParamScheduler']
