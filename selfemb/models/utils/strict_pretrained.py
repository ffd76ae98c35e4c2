"""``StrictPretrained``: initialise a module from a checkpoint, or fail naming the keys.

mmengine's ``Pretrained`` initialiser loads with ``strict=False``: a checkpoint of another
architecture (or a wrong ``prefix``) only logs a warning, and a linear probe then trains
on a randomly initialised backbone. Evaluation configs use this one instead.

mmpretrain's ``ResNet.init_weights`` zero-initialises the last BN of every residual
block after the initialiser unless ``init_cfg['type'] == 'Pretrained'``: give such
backbones ``zero_init_residual=False`` (the benchmark configs do).

A local checkpoint is loaded weights-only (:mod:`selfemb.utils.checkpoint`): a file that
needs full unpickling is refused unless ``SELFEMB_TRUST_CHECKPOINTS=1``.
"""
from typing import Dict, Optional

import torch
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit, update_init_info
from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_with_prefix
from torch import nn

from selfemb.registry import WEIGHT_INITIALIZERS


def _mismatches(module: nn.Module, state: Dict[str, torch.Tensor]) -> Optional[str]:
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(f'{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}'
                    for k in set(own) & set(state) if state[k].shape != own[k].shape)
    parts = [f'{name} ({len(keys)}): {", ".join(keys[:8])}{" ..." if len(keys) > 8 else ""}'
             for name, keys in (('missing', missing), ('unexpected', unexpected),
                                ('wrong shape', shapes)) if keys]
    return '; '.join(parts) or None


@WEIGHT_INITIALIZERS.register_module()
class StrictPretrained(PretrainedInit):
    """Load ``checkpoint`` (keys under ``prefix``, which is stripped) into the module; every
    parameter and buffer must be there with its shape and nothing else may be, otherwise
    a ``ValueError`` names the checkpoint, the prefix and the keys."""

    def __call__(self, module: nn.Module) -> None:
        # registers the weights-only local loader (imported here: no import cycle)
        import selfemb.utils.checkpoint  # noqa: F401
        if self.prefix is None:
            state = _load_checkpoint(self.checkpoint, map_location=self.map_location)
            state = state.get('state_dict', state) if isinstance(state, dict) else state
        else:
            state = _load_checkpoint_with_prefix(self.prefix, self.checkpoint,
                                                 map_location=self.map_location)
        problem = _mismatches(module, state)
        if problem:
            raise ValueError(f'checkpoint {self.checkpoint!r} (prefix {self.prefix!r}) does not '
                             f'match {type(module).__name__}: {problem}')
        module.load_state_dict(state, strict=True)
        print_log(f'loaded all {len(state)} tensors of {type(module).__name__} from '
                  f'{self.checkpoint} (prefix {self.prefix!r})', logger='current')
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())
