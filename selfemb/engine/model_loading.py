"""Load a checkpoint only into the model that made it.

A checkpoint records what produced it (``meta['selfemb']``: algorithm, config, dataset
length, version). Before any weights are copied, :func:`check_checkpoint` compares the
checkpoint with the model: the algorithm type, and every key of the state dict (missing,
unexpected, or of another shape). A mismatch raises :class:`CheckpointMismatchError`
naming both sides and the keys; ``allow_mismatch=True`` (``--allow-mismatch``) turns it
into a warning for intended cross-loads, e.g. starting one method from another's
weights. Evaluation tools ignore the dataset-sized state of memories (a model built
outside a run has empty banks), never the network's weights; a model that is not a
selfemb algorithm (e.g. the VOC07 SVM config's backbone-only classifier) must find all
its weights in the checkpoint, which may hold more (neck, head, banks).
"""
import logging
from typing import Dict, Iterable, List, Optional

import torch
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict
from torch import nn

from selfemb.models.algorithms.base import EmbeddingAlgorithm
from selfemb.models.memories.base_memory import BaseMemory

SHOWN_KEYS = 8


class CheckpointMismatchError(ValueError):
    """A checkpoint that does not fit the model it is loaded into."""


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


def strip_prefix(state: Dict[str, torch.Tensor], prefix: str = 'module.') -> Dict:
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in state.items()}


def upgrade_keys(model: nn.Module, state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """``state`` with keys renamed since older checkpoints of the model's algorithm."""
    model = unwrap(model)
    return model.upgrade_state_dict(state) if isinstance(model, EmbeddingAlgorithm) else state


def data_state_prefixes(model: nn.Module) -> List[str]:
    """Prefixes of the dataset-sized memories' buffers (``memory.`` ...)."""
    return [f'{name}.' for name, module in unwrap(model).named_modules()
            if isinstance(module, BaseMemory) and name]


def key_mismatch(model: nn.Module, state: Dict[str, torch.Tensor],
                 ignore_prefixes: Iterable[str] = ()) -> Dict[str, List[str]]:
    """``missing`` / ``unexpected`` / ``mismatched`` (with both shapes) keys of ``state``
    against ``model.state_dict()``, leaving out keys under ``ignore_prefixes``."""
    ignore = tuple(ignore_prefixes)
    own = {k: v for k, v in unwrap(model).state_dict().items() if not k.startswith(ignore)}
    state = {k: v for k, v in strip_prefix(state).items() if not k.startswith(ignore)}
    return dict(
        missing=[k for k in own if k not in state],
        unexpected=[k for k in state if k not in own],
        mismatched=[f'{k}: checkpoint {tuple(state[k].shape)}, model {tuple(v.shape)}'
                    for k, v in own.items() if k in state
                    and hasattr(state[k], 'shape') and tuple(state[k].shape) != tuple(v.shape)])


def _describe(identity: Optional[dict], fallback: str) -> str:
    if not identity:
        return fallback
    parts = [str(identity.get('algorithm'))]
    if identity.get('config'):
        parts.append(f"config {identity['config']}")
    if identity.get('dataset_length') is not None:
        parts.append(f"{identity['dataset_length']} training samples")
    return ', '.join(parts)


def check_checkpoint(model: nn.Module, checkpoint: dict, filename: str,
                     model_identity: Optional[dict] = None, ignore_data_state: bool = False,
                     allow_mismatch: bool = False,
                     part_of_checkpoint: bool = False) -> Dict[str, List[str]]:
    """Raise :class:`CheckpointMismatchError` unless ``checkpoint`` fits ``model``.

    ``model_identity`` describes the model's side (``algorithm``, ``config``,
    ``dataset_length``); its algorithm defaults to the model's class name.
    ``part_of_checkpoint``: the model is a part of the checkpoint's (unexpected keys and
    the algorithm are not compared). Returns the key report."""
    model_identity = dict(model_identity or {})
    model_identity.setdefault('algorithm', type(unwrap(model)).__name__)
    saved = (checkpoint.get('meta') or {}).get('selfemb')
    state = upgrade_keys(model, checkpoint.get('state_dict', checkpoint))
    ignore = data_state_prefixes(model) if ignore_data_state else ()
    report = key_mismatch(model, state, ignore)
    if part_of_checkpoint:
        report['unexpected'] = []
    problems = []
    if (saved and not part_of_checkpoint
            and saved.get('algorithm') != model_identity['algorithm']):
        problems.append(f"algorithm {saved.get('algorithm')} in the checkpoint, "
                        f"{model_identity['algorithm']} in the model")
    for kind, keys in report.items():
        if keys:
            more = f' (+{len(keys) - SHOWN_KEYS} more)' if len(keys) > SHOWN_KEYS else ''
            problems.append(f'{len(keys)} {kind} key(s): {keys[:SHOWN_KEYS]}{more}')
    if not problems:
        return report
    message = (f'{filename} does not fit this model.\n'
               f"  checkpoint: {_describe(saved, 'no selfemb record (not made by selfemb)')}\n"
               f"  model:      {_describe(model_identity, '')}\n  - "
               + '\n  - '.join(problems))
    if not allow_mismatch:
        raise CheckpointMismatchError(
            message + '\nUse the checkpoint of this config, or pass --allow-mismatch '
            '(--cfg-options allow_mismatch=True) to load the matching keys on purpose.')
    print_log(message + '\nallow_mismatch=True: loading the keys that fit.',
              logger='current', level=logging.WARNING)
    return report


def load_checkpoint_checked(model: nn.Module, filename: str, allow_mismatch: bool = False,
                            map_location: str = 'cpu') -> dict:
    """Load ``filename`` into ``model`` for evaluation: checked with
    :func:`check_checkpoint` (memories' dataset-sized state ignored; a model that is not
    a selfemb algorithm as a part of the checkpoint's), then every key that fits."""
    checkpoint = _load_checkpoint(filename, map_location=map_location)
    if not isinstance(checkpoint, dict):
        raise CheckpointMismatchError(f'{filename} holds a {type(checkpoint).__name__}, '
                                      'not a checkpoint dict')
    check_checkpoint(model, checkpoint, filename, ignore_data_state=True,
                     allow_mismatch=allow_mismatch,
                     part_of_checkpoint=not isinstance(unwrap(model), EmbeddingAlgorithm))
    own = unwrap(model).state_dict()
    state = upgrade_keys(model, strip_prefix(checkpoint.get('state_dict', checkpoint)))
    state = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    # what is left out is reported above: memories' dataset-sized state, or (allowed) misfits
    load_state_dict(unwrap(model), state, strict=False)
    return checkpoint
