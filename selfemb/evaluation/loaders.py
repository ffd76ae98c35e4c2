"""Dataloaders of evaluation passes named in a config."""
from typing import Union

from torch.utils.data import DataLoader


def resolve_loader_cfg(loader: Union[dict, str, DataLoader], cfg) -> Union[dict, DataLoader]:
    """A dataloader config given directly, or by the name of a top-level config key."""
    if not isinstance(loader, str):
        return loader
    if cfg is None or loader not in cfg:
        raise KeyError(f'KNNEvalHook: the config has no top-level {loader!r} dataloader '
                       '(name a key such as knn_train_dataloader, or give the dict itself)')
    return cfg[loader]
