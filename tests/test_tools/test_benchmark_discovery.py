"""tools/analysis/benchmark.py --discovery: times AND's neighbourhood discovery per part,
JSON last line; --check compares it with the fp32 reference on the same bank."""
import json
import sys

from tests.test_tools.bench_loader import benchmark


def run(capsys, monkeypatch, *argv):
    monkeypatch.setattr(sys, 'argv', ['benchmark.py', *argv])
    benchmark.main()
    return capsys.readouterr().out.strip().splitlines()


def test_discovery_mode_prints_json(capsys, monkeypatch):
    result = json.loads(run(capsys, monkeypatch, '--discovery', '400', '--chunk-size', '64')[-1])
    assert result['discovery'] == 400 and result['num_anchors'] == 100
    assert result['k'] == 1 and result['chunk_size'] == 64 and result['seconds'] >= 0
    assert {'entropy_seconds', 'neighbours_seconds', 'select_seconds'} <= set(result)
    assert result['dtype'] == 'float32' and 'check' not in result


def test_discovery_check_reports_bf16_against_fp32(capsys, monkeypatch, tmp_path):
    out = run(capsys, monkeypatch, '--discovery', '1500', '--precision', 'bf16', '--check',
              '--list', '3', '--out', str(tmp_path / 'd.json'))
    result = json.loads(out[-1])
    assert json.loads((tmp_path / 'd.json').read_text()) == result
    assert result['dtype'] == 'bfloat16'
    check = result['check']
    for kind in ('neighbours', 'anchors'):
        assert check[f'{kind}_differing'] == (check[f'{kind}_differing_ties']
                                              + check[f'{kind}_differing_not_ties'])
        assert len(check[f'{kind}_differences']) == min(3, check[f'{kind}_differing'])
    assert check['precision'] == 'bfloat16' and check['entropy_resolution'] == 0.0625
    assert check['exact_up_to_ties'] == (check['neighbours_differing_not_ties'] == 0
                                         and check['anchors_differing_not_ties'] == 0)
    assert any(line.startswith('fp32 check:') for line in out)
