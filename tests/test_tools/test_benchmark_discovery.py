"""tools/analysis/benchmark.py --discovery: times AND's neighbourhood discovery, JSON last line."""
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_discovery_mode_prints_json(capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location('benchmark', ROOT / 'tools/analysis/benchmark.py')
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    monkeypatch.setattr(sys, 'argv', ['benchmark.py', '--discovery', '400', '--chunk-size', '64'])
    benchmark.main()
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result['discovery'] == 400 and result['num_anchors'] == 100
    assert result['k'] == 1 and result['chunk_size'] == 64 and result['seconds'] >= 0
