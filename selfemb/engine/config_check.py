"""Reject ``--cfg-options`` keys that a config does not have, before anything runs.

mmengine merges any key, so ``trian_cfg.max_epochs=1`` silently trains the default
schedule. :func:`check_cfg_options` requires that every key's path exists in the config
up to its last part, and that the last part is either an existing key or an argument
of the component the dict builds (its ``type`` looked up in the registry the key's place
implies: ``model`` -> MODELS, ``*dataset`` -> DATASETS, hooks -> HOOKS, ...). The
``custom_hooks`` and ``method_hooks`` dicts are keyed by role (``custom_hooks.knn.k``): an
unknown role is an error that lists the config's roles. Errors name the key and the
closest valid names.
"""
import difflib
import inspect
from typing import Iterable, List, Optional, Set

from mmengine.runner import Runner

# top-level keys mmengine's Runner and selfemb's tools read besides the config's own
RUNNER_KEYS = set(inspect.signature(Runner.__init__).parameters) - {'self'} | {
    'runner_type', 'launcher', 'allow_mismatch', 'gpu_ids'}


def _close(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(set(choices)), n=3, cutoff=0.5)
    return f' Did you mean {", ".join(repr(c) for c in close)}?' if close else ''


def accepted_arguments(obj) -> Optional[Set[str]]:
    """Keyword arguments ``obj(...)`` accepts, following ``**kwargs`` up a class's
    hierarchy (``object`` / ``nn.Module`` take none); None when they cannot be known."""
    if not inspect.isclass(obj):
        try:
            params = inspect.signature(obj).parameters.values()
        except (TypeError, ValueError):
            return None
        if any(p.kind == p.VAR_KEYWORD for p in params):
            return None
        return {p.name for p in params if p.kind != p.VAR_POSITIONAL}
    names: Set[str] = set()
    for klass in obj.__mro__:
        init = vars(klass).get('__init__')
        if init is None:
            continue
        if klass is object or klass.__module__.startswith('torch.nn.modules'):
            return names
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        names |= {p.name for p in params
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != 'self'}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names
    return names


def _registry_for(path: List[str]):
    """The registry that builds the dict at ``path`` (a list of keys), or None."""
    from selfemb import registry as r
    top, last = path[0], path[-1]
    if top == 'model':
        return r.MODELS
    if last == 'dataset' or last.endswith('_dataset'):
        return r.DATASETS
    if last == 'sampler':
        return r.DATA_SAMPLERS
    if top in ('default_hooks', 'custom_hooks', 'method_hooks'):
        return r.HOOKS
    if path == ['train_cfg']:
        return r.LOOPS
    if path == ['optim_wrapper']:
        return r.OPTIM_WRAPPERS
    if path == ['optim_wrapper', 'optimizer']:
        return r.OPTIMIZERS
    if top == 'param_scheduler':
        return r.PARAM_SCHEDULERS
    if 'pipeline' in path or 'batch_augments' in path:
        return r.TRANSFORMS
    return None


def _arguments_of(node: dict, path: List[str]) -> Optional[Set[str]]:
    type_ = node.get('type')
    registry = _registry_for(path)
    if registry is None or type_ is None:
        return None
    if not isinstance(type_, str):
        return accepted_arguments(type_)
    try:
        cls = registry.get(type_)
    except KeyError:
        return None  # an unknown type is reported when it is built
    return accepted_arguments(cls) if cls is not None else None


def check_cfg_option(cfg, key: str) -> None:
    """Raise ``KeyError`` if ``--cfg-options key=...`` names something ``cfg`` cannot take."""
    parts = key.split('.')
    if parts[0] not in cfg:
        if parts[0] in RUNNER_KEYS:
            return
        raise KeyError(f'--cfg-options {key}: the config has no {parts[0]!r}.'
                       f'{_close(parts[0], list(cfg.keys()) + sorted(RUNNER_KEYS))}')
    node, path = cfg[parts[0]], parts[:1]
    for part in parts[1:]:
        where = '.'.join(path)
        if isinstance(node, (list, tuple)):
            if not (part.isdigit() and int(part) < len(node)):
                raise KeyError(f'--cfg-options {key}: {where} is a list of {len(node)} '
                               f'entries; {part!r} is not an index of it')
            node = node[int(part)]
        elif isinstance(node, dict):
            if path in (['custom_hooks'], ['method_hooks']) and part not in node:
                roles = sorted(node)
                raise KeyError(f'--cfg-options {key}: the config has no hook with role '
                               f'{part!r} in {path[0]}.{_close(part, roles)} Its roles: '
                               f'{roles}')
            if part not in node:
                allowed = _arguments_of(node, path)
                if allowed is None or part in allowed:
                    return  # a new argument of the component (or of a plain dict)
                owner = f" ({node['type']})" if 'type' in node else ''
                raise KeyError(f'--cfg-options {key}: {where}{owner} takes no {part!r}.'
                               f'{_close(part, list(node.keys()) + sorted(allowed))} '
                               f'Its arguments: {sorted(allowed)}')
            node = node[part]
        elif node is None:
            return  # an unset entry that the option turns into a dict
        else:
            raise KeyError(f'--cfg-options {key}: {where} is {node!r}, not a dict')
        path.append(part)


def check_cfg_options(cfg, options: Optional[dict]) -> None:
    """:func:`check_cfg_option` for every key of ``options`` (DictAction's dict)."""
    for key in options or {}:
        check_cfg_option(cfg, key)
