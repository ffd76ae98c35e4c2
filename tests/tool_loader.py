"""Load a script of ``tools/`` as a module (the tools are scripts, not a package)."""
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Optional, Union

ROOT = Path(__file__).resolve().parents[1]


def load_tool(path: Union[str, Path], name: Optional[str] = None) -> ModuleType:
    """A fresh module of ``path`` (absolute, or relative to the repository root), named
    ``name`` (default: the file's stem + ``_tool``)."""
    file = ROOT / path
    spec = importlib.util.spec_from_file_location(name or f'{file.stem}_tool', file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
