"""Config edits of the throughput mode (precision, memory format, options) and the
environment the Runner would set up from ``env_cfg``."""
from typing import Dict, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.utils.dl_utils import set_multi_processing

from selfemb.engine.config_check import check_cfg_options
from selfemb.engine.optim_wrappers import bf16_wrapper_type


def apply_amp(cfg: Config) -> None:
    """``--amp``: bf16 autocast through ``Bf16OptimWrapper`` (as tools/train.py)."""
    if not torch.cuda.is_available():
        raise SystemExit('--amp (bf16 autocast through Bf16OptimWrapper) needs a GPU')
    cfg.optim_wrapper.type = bf16_wrapper_type(cfg.optim_wrapper.get('type', 'OptimWrapper'))


def load_cfg(path: str, cfg_options: Optional[Dict] = None, amp: bool = False,
             channels_last: bool = False) -> Config:
    """The config at ``path`` with ``--cfg-options``, ``--amp`` and ``--channels-last``."""
    cfg = Config.fromfile(path)
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    if amp:
        apply_amp(cfg)
    if channels_last:
        cfg.data_preprocessor = dict(cfg.get('data_preprocessor') or {}, channels_last=True)
    return cfg


def apply_env_cfg(cfg: Config) -> Dict[str, object]:
    """What mmengine's ``Runner.setup_env`` / ``set_randomness`` do with ``env_cfg`` and
    ``randomness`` in a single process: cuDNN autotuning (``cudnn_benchmark``), turned off
    by ``randomness.deterministic``, and the multiprocessing settings. Returns the
    resulting cuDNN flags."""
    env = cfg.get('env_cfg') or {}
    if env.get('cudnn_benchmark'):
        torch.backends.cudnn.benchmark = True
    if (cfg.get('randomness') or {}).get('deterministic'):
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    set_multi_processing(**(env.get('mp_cfg') or {}), distributed=False)
    return dict(cudnn_benchmark=torch.backends.cudnn.benchmark,
                cudnn_deterministic=torch.backends.cudnn.deterministic)


def sgd_kwargs(cfg: Config) -> Dict[str, object]:
    """The config's SGD settings, for the plain loop's ``torch.optim.SGD``."""
    optimizer = dict(cfg.optim_wrapper.get('optimizer') or {})
    if optimizer.get('type') not in ('SGD', 'torch.optim.SGD'):
        raise SystemExit(f"the plain baselines use torch.optim.SGD; this config's optimizer is "
                         f"{optimizer.get('type')!r} (optim_wrapper.optimizer.type)")
    keys: Sequence[str] = ('lr', 'momentum', 'dampening', 'weight_decay', 'nesterov')
    return {k: optimizer[k] for k in keys if k in optimizer}
