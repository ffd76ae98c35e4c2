"""docs/components.md lists every component selfemb registers (docs stay true to code)."""
from pathlib import Path

import pytest

import selfemb.datasets  # noqa: F401
import selfemb.engine  # noqa: F401
import selfemb.models  # noqa: F401
from selfemb import registry

DOC = (Path(__file__).resolve().parents[2] / 'docs' / 'components.md').read_text()
REGISTRIES = ['MODELS', 'DATASETS', 'TRANSFORMS', 'FUNCTIONS', 'HOOKS', 'PARAM_SCHEDULERS',
              'DATA_SAMPLERS']


@pytest.mark.parametrize('name', REGISTRIES)
def test_every_registered_name_is_documented(name):
    names = sorted(n for n, obj in getattr(registry, name).module_dict.items()
                   if obj.__module__.startswith('selfemb.'))  # not the tests' toy models
    assert names, f'{name} registers nothing'
    missing = [n for n in names if f'`{n}`' not in DOC and f'`selfemb.{n}`' not in DOC]
    assert not missing, f'add these {name} entries to docs/components.md: {missing}'
