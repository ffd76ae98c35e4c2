"""tools/analysis/benchmark.py loaded as a module (tools/ is not a package); loading it
puts its ``bench`` package on ``sys.path``, so tests then ``import bench.<module>``."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_benchmark():
    spec = importlib.util.spec_from_file_location('benchmark_tool',
                                                  ROOT / 'tools/analysis/benchmark.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


benchmark = load_benchmark()


def bench_module(name: str):
    """``bench.<name>`` (the package beside benchmark.py)."""
    return importlib.import_module(f'bench.{name}')
