"""selfemb's registries: children of mmengine's root registries.

Every registry names the package that registers into it (``locations``), so building a
config imports what it needs. Components of other OpenMMLab packages are reached with
their scope prefix, e.g. ``type='mmpretrain.ResNet_CIFAR'``.
"""
import difflib

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry as MMEngineRegistry


class Registry(MMEngineRegistry):
    """mmengine's Registry whose failed look-ups name the close matches and all choices."""

    def get(self, key: str):
        obj = super().get(key)
        if obj is None and isinstance(key, str):
            raise KeyError(unknown_type_message(self, key))
        return obj


def registered_names(registry: MMEngineRegistry) -> list:
    """Names visible from ``registry``: its own and its ancestors'."""
    names, node = set(), registry
    while node is not None:
        names.update(node.module_dict)
        node = node.parent
    return sorted(names)


def unknown_type_message(registry: MMEngineRegistry, key: str) -> str:
    names = registered_names(registry)
    close = difflib.get_close_matches(key.split('.')[-1], names, n=3)
    hint = f' Did you mean {", ".join(close)}?' if close else ''
    return (f'{key!r} is not in the {registry.scope}::{registry.name} registry.{hint} '
            f'Registered: {", ".join(names)}. Types of other packages need their scope, '
            "e.g. 'mmpretrain.ResNet'; your own modules need custom_imports.")

RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, locations=['selfemb.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['selfemb.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['selfemb.engine'])
LOG_PROCESSORS = Registry('log processor', parent=MMENGINE_LOG_PROCESSORS,
                          locations=['selfemb.engine'])
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, locations=['selfemb.engine'])
OPTIM_WRAPPERS = Registry('optim wrapper', parent=MMENGINE_OPTIM_WRAPPERS,
                          locations=['selfemb.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor',
                                      parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      locations=['selfemb.engine'])
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS,
                            locations=['selfemb.engine'])

DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, locations=['selfemb.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS,
                         locations=['selfemb.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, locations=['selfemb.datasets'])
FUNCTIONS = Registry('function', parent=MMENGINE_FUNCTIONS, locations=['selfemb.datasets'])

MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['selfemb.models'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMENGINE_MODEL_WRAPPERS,
                          locations=['selfemb.models'])
WEIGHT_INITIALIZERS = Registry('weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS,
                               locations=['selfemb.models'])

METRICS = Registry('metric', parent=MMENGINE_METRICS, locations=['selfemb.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, locations=['selfemb.evaluation'])

VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS,
                       )
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS,
                       )
