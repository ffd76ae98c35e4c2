"""AND's neighbourhood discovery timed on a synthetic L2-normalised N x 128 bank: the
entropy of every row's softmax over the bank (one fused attention pass by default), its
nearest other row (one blocked matmul + max pass in the chosen precision) and the anchor
selection; with ``check``, the fp32 reference on the same bank and the exactness report
of :mod:`.exactness`."""
import time
from typing import Callable, Dict, Optional

import torch

from selfemb.models.utils import nearest_neighbours, num_anchors, select_anchors, softmax_entropy

from .exactness import exactness_report, fp32_reference
from .timing import device_name, sync

TEMPERATURE, SELECT_RATE, DIM = 0.1, 0.25, 128
#: rows of the untimed warm-up run (kernels, allocator)
WARMUP_ROWS = 4096


def synthetic_bank(n: int, device: torch.device, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator(device=device).manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, DIM, device=device, generator=gen),
                                         dim=1)


def discover(bank: torch.Tensor, dtype: torch.dtype, chunk_size: Optional[int], fused: bool,
             clock: Callable) -> Dict[str, object]:
    """Entropy, nearest neighbours and round-1 anchors of ``bank``, each part timed by
    ``clock(name, fn)``."""
    entropy, method = clock('entropy', lambda: softmax_entropy(
        bank, TEMPERATURE, chunk_size, dtype, fused=fused))
    neighbours = clock('neighbours', lambda: nearest_neighbours(bank, 1, chunk_size, dtype))
    anchors = clock('select', lambda: select_anchors(
        entropy, num_anchors(len(bank), 1, SELECT_RATE)))
    return dict(entropy=entropy, neighbours=neighbours, anchors=anchors, method=method)


def run_discovery(n: int, dtype: torch.dtype, chunk_size: Optional[int] = None,
                  fused: bool = True, check: bool = False, max_listed: int = 20,
                  device: Optional[torch.device] = None) -> Dict[str, object]:
    """The JSON record of one timed discovery on an ``n``-row synthetic bank."""
    if n < 2:
        raise SystemExit(f'--discovery needs N >= 2 bank rows, got {n}')
    device = device or torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    bank = synthetic_bank(n, device)
    times: Dict[str, float] = {}

    def clock(name: str, fn):
        sync(device)
        start = time.perf_counter()
        out = fn()
        sync(device)
        times[name] = times.get(name, 0.0) + time.perf_counter() - start
        return out

    discover(bank[:min(n, WARMUP_ROWS)], dtype, chunk_size, fused, clock)
    times.clear()
    found = discover(bank, dtype, chunk_size, fused, clock)
    result = dict(
        discovery=n, dim=DIM, k=1, select_rate=SELECT_RATE, chunk_size=chunk_size or 'auto',
        dtype=str(dtype).replace('torch.', ''), entropy_method=found['method'],
        num_anchors=int(found['anchors'].sum()), device=device_name(device),
        seconds=round(sum(times.values()), 3),
        **{f'{name}_seconds': round(t, 3) for name, t in times.items()})
    if check:
        start = time.perf_counter()
        reference = fp32_reference(bank, TEMPERATURE, SELECT_RATE, chunk_size)
        result['check'] = exactness_report(bank, reference, found, dtype, TEMPERATURE,
                                           max_listed)
        result['check_seconds'] = round(time.perf_counter() - start, 3)
    return result


def summary_lines(result: Dict[str, object]) -> list:
    lines = [f"{result['device']}: discovery on {result['discovery']} x {DIM} "
             f"({result['dtype']}) took {result['seconds']} s (entropy "
             f"{result['entropy_method']} {result['entropy_seconds']:.3f} s, neighbours "
             f"{result['neighbours_seconds']:.3f} s, select {result['select_seconds']:.3f} s)"]
    check = result.get('check')
    if check:
        lines.append(f"fp32 check: {check['neighbours_differing']} neighbours differ "
                     f"({check['neighbours_differing_ties']} ties), "
                     f"{check['anchors_differing']} anchors differ "
                     f"({check['anchors_differing_ties']} ties); entropy max |error| "
                     f"{check['entropy_max_abs_error']}; exact up to ties: "
                     f"{check['exact_up_to_ties']}")
        for kind in ('neighbours', 'anchors'):
            for row in check[f'{kind}_differences']:
                lines.append(f'  {kind[:-1]} ' + ', '.join(f'{k} {v}' for k, v in row.items()))
    return lines
