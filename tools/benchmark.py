"""Launcher: runs ``main`` of ``tools/analysis/benchmark.py``, where the throughput tool
lives (its docstring lists the modes and options). Kept because the project's guidelines
name ``tools/benchmark.py``: ``python tools/benchmark.py ARGS`` is
``python tools/analysis/benchmark.py ARGS``."""
import importlib.util
from pathlib import Path

if __name__ == '__main__':
    path = Path(__file__).resolve().parent / 'analysis' / 'benchmark.py'
    spec = importlib.util.spec_from_file_location('benchmark', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main()
