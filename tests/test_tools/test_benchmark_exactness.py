"""The discovery exactness report: differences of a bf16 discovery from the fp32
reference, each classified as a tie within bf16 rounding or not."""
import math

import torch

from selfemb.models.utils import nearest_neighbours, num_anchors, select_anchors
from tests.test_tools.bench_loader import bench_module

exactness = bench_module('exactness')
TAU = 0.1


def planted_bank(n: int = 3000, dim: int = 128) -> torch.Tensor:
    """Random unit rows, except: row 0 = e0, and rows 1 and 2 are its two nearest rows at
    similarities 0.8984375 (a bf16 number) and 0.8985 (fp32's choice; it rounds to the
    same bf16 number, so a bf16 search sees a tie and keeps the lower index, 1)."""
    gen = torch.Generator().manual_seed(0)
    bank = torch.nn.functional.normalize(torch.randn(n, dim, generator=gen), dim=1)
    bank[0] = 0.0
    bank[0, 0] = 1.0
    for row, sim, axis in ((1, 0.8984375, 1), (2, 0.8985, 2)):
        bank[row] = 0.0
        bank[row, 0], bank[row, axis] = sim, math.sqrt(1 - sim * sim)
    return bank


def test_spacing_is_the_bf16_ulp():
    values = torch.tensor([0.9, 0.3, 10.0, -0.9])
    expected = torch.tensor([2 ** -8, 2 ** -9, 2 ** -4, 2 ** -8])
    assert torch.equal(exactness.spacing(values, torch.bfloat16), expected)
    assert exactness.entropy_resolution(torch.bfloat16, TAU) == 0.0625


def test_planted_tie_is_found_and_called_a_tie():
    bank = planted_bank()
    reference = exactness.fp32_reference(bank, TAU, 0.25, chunk_size=512)
    assert int(reference['neighbours'][0]) == 2
    bf16 = nearest_neighbours(bank, 1, 512, torch.bfloat16)
    assert int(bf16[0]) == 1  # the similarities really are compared in bf16
    found = dict(reference, neighbours=bf16)
    report = exactness.exactness_report(bank, reference, found, torch.bfloat16, TAU)
    rows = {d['row']: d for d in report['neighbours_differences']}
    assert rows[0]['fp32'] == 2 and rows[0]['reduced'] == 1 and rows[0]['tie']
    assert math.isclose(rows[0]['fp32_gap'], 0.8985 - 0.8984375, rel_tol=1e-2)
    # the random rows' bf16 near-ties too: every difference is within bf16 rounding
    assert report['neighbours_differing'] >= 1 and report['neighbours_differing_not_ties'] == 0
    assert report['anchors_differing'] == 0 and report['exact_up_to_ties'] is True


def test_differences_beyond_rounding_are_not_ties_and_listed_first():
    bank = planted_bank(600)
    reference = exactness.fp32_reference(bank, TAU, 0.25, chunk_size=128)
    neighbours = reference['neighbours'].clone()
    far = int((bank[5] @ bank.t()).argmin())  # the least similar row: a wrong neighbour
    neighbours[5] = far
    neighbours[0] = 1  # the planted tie
    entropy, anchors = reference['entropy'], reference['anchors'].clone()
    order = torch.sort(entropy, stable=True).indices
    count = num_anchors(len(bank), 1, 0.25)
    last, first_other, lowest, highest = order[count - 1], order[count], order[0], order[-1]
    anchors[last], anchors[first_other] = False, True  # neighbours across the cut: a tie
    anchors[lowest], anchors[highest] = False, True  # the ends of the order
    assert int(highest) in (0, 1, 2)  # the planted near-duplicates: a high entropy
    assert torch.equal(select_anchors(entropy, count), reference['anchors'])
    found = dict(entropy=entropy, neighbours=neighbours, anchors=anchors)
    report = exactness.exactness_report(bank, reference, found, torch.bfloat16, TAU)
    assert report['neighbours_differing'] == 2 and report['neighbours_differing_not_ties'] == 1
    first = report['neighbours_differences'][0]
    assert (first['row'], first['reduced'], first['tie']) == (5, far, False)
    assert first['fp32_gap'] > first['resolution']
    assert report['anchors_differing'] == 4 and report['anchors_differing_not_ties'] >= 1
    listed = {d['row']: d for d in report['anchors_differences']}
    assert listed[int(last)]['tie'] and listed[int(first_other)]['tie']
    assert listed[int(last)]['change'] == 'dropped'
    assert listed[int(highest)]['change'] == 'added' and not listed[int(highest)]['tie']
    assert not report['anchors_differences'][0]['tie']  # not-ties first
    assert report['exact_up_to_ties'] is False
    assert report['entropy_max_abs_error'] == 0.0


def test_identical_results_are_exact():
    bank = planted_bank(300)
    reference = exactness.fp32_reference(bank, TAU, 0.25, chunk_size=None)
    report = exactness.exactness_report(bank, reference, dict(reference), torch.bfloat16, TAU)
    assert report['exact_up_to_ties'] is True
    assert report['neighbours_differing'] == report['anchors_differing'] == 0
