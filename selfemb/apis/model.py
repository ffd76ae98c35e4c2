"""Build selfemb models outside the Runner (evaluation, benchmarks, notebooks)."""
import copy
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn


def build_model_from_cfg(cfg: Config) -> nn.Module:
    """Build ``cfg.model`` exactly as mmengine's Runner does (top-level
    ``data_preprocessor`` merged in, default scope from the config)."""
    import selfemb.datasets  # noqa: F401  (registrations)
    import selfemb.engine  # noqa: F401
    import selfemb.models  # noqa: F401
    from selfemb.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'selfemb'))
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', copy.deepcopy(cfg.data_preprocessor))
    return MODELS.build(model_cfg)


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu') -> nn.Module:
    """A model from a config file (or Config), with weights from ``checkpoint`` (which must
    fit it, see :func:`selfemb.engine.model_loading.check_checkpoint`), in eval mode."""
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    model = build_model_from_cfg(cfg)
    if checkpoint is not None:
        from selfemb.engine.model_loading import load_checkpoint_checked
        load_checkpoint_checked(model, checkpoint)
    return model.to(device).eval()
