"""tools/analysis/benchmark.py loaded as a module (tools/ is not a package); loading it
puts its ``bench`` package on ``sys.path``, so tests then ``import bench.<module>``."""
import importlib.util
from pathlib import Path

from tests.tool_loader import load_tool

ROOT = Path(__file__).resolve().parents[2]


def load_benchmark():
    return load_tool('tools/analysis/benchmark.py', 'benchmark_tool')


benchmark = load_benchmark()


def bench_module(name: str):
    """``bench.<name>`` (the package beside benchmark.py)."""
    return importlib.import_module(f'bench.{name}')
