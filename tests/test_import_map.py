"""The layers of selfemb: a subpackage imports only from layers below its own, and no two
subpackages import each other.

Read from the source with ``ast`` (every ``import``, also inside functions), bottom to top:

    version, utils, registry  ->  datasets, models  ->  evaluation  ->  engine
    ->  transfer  ->  apis
"""
import ast
from pathlib import Path
from typing import Dict, Iterator, Set, Tuple

ROOT = Path(__file__).resolve().parents[1] / 'selfemb'
LAYERS = [('version', 'utils', 'registry'), ('datasets', 'models'), ('evaluation', ),
          ('engine', ), ('transfer', ), ('apis', )]
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}
ALLOWED: set = set()  # (file, subpackage) pairs exempt from the layering: none


def imported(path: Path) -> Iterator[str]:
    """Absolute names of every selfemb module ``path`` imports."""
    package = path.relative_to(ROOT.parent).with_suffix('').parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = '.'.join(package[:len(package) - node.level + 1]) if node.level else ''
            module = '.'.join(filter(None, [base, node.module]))
            yield module
            if module == 'selfemb':  # from selfemb import registry
                yield from (f'selfemb.{alias.name}' for alias in node.names)


def subpackage_edges() -> Dict[Tuple[str, str], Set[str]]:
    """``{(importer, imported): files}`` between different subpackages of selfemb."""
    edges: Dict[Tuple[str, str], Set[str]] = {}
    for path in sorted(ROOT.rglob('*.py')):
        parts = path.relative_to(ROOT).with_suffix('').parts
        if parts == ('__init__', ):
            continue
        src = parts[0]
        for name in imported(path):
            dst = name.split('.')[1] if name.startswith('selfemb.') else None
            if dst is not None and dst != src:
                edges.setdefault((src, dst), set()).add(path.relative_to(ROOT.parent).as_posix())
    return edges


def test_every_subpackage_has_a_layer():
    names = {p.stem if p.is_file() else p.name for p in ROOT.iterdir()
             if (p.suffix == '.py' and p.stem != '__init__') or (p / '__init__.py').is_file()}
    assert names == set(LEVEL), f'give these a layer in LAYERS: {sorted(names ^ set(LEVEL))}'


def test_no_upward_import():
    upward = [f'{f} imports selfemb.{dst}, not below {src} in LAYERS'
              for (src, dst), files in sorted(subpackage_edges().items())
              if LEVEL[dst] >= LEVEL[src] for f in sorted(files) if (f, dst) not in ALLOWED]
    assert not upward, '\n'.join(upward)


def test_no_cycle_between_subpackages():
    edges = {edge for edge, files in subpackage_edges().items()
             if any((f, edge[1]) not in ALLOWED for f in files)}
    cycles = sorted(f'{a} <-> {b}' for a, b in edges if (b, a) in edges and a < b)
    assert not cycles, f'subpackages importing each other: {cycles}'
