"""Finding the model piece a hook works on."""
from typing import Tuple, Type, TypeVar

from mmengine.model import is_model_wrapper
from torch import nn

Part = TypeVar('Part', bound=nn.Module)


def model_and_part(runner, part_type: Type[Part], hook: str) -> Tuple[nn.Module, Part]:
    """The runner's model (unwrapped from DDP) and its single ``part_type`` sub-module;
    a ``TypeError`` naming ``hook`` when there is none or more than one."""
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    found = [m for m in model.modules() if isinstance(m, part_type)]
    if len(found) != 1:
        raise TypeError(f'{hook} needs a model with one {part_type.__name__}; '
                        f'{type(model).__name__} has {len(found)}')
    return model, found[0]
