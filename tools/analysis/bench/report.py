"""Per-variant summary (median and spread of the repeats, rates, GPU-busy and host time),
ratios to the baselines, and the human-readable table printed above the JSON line."""
import statistics
from typing import Dict, List, Optional, Sequence

from .timing import Window

#: variants of the throughput mode, in the order of the table
VARIANTS = ('end_to_end', 'plain_eager', 'plain_graphed')
#: baselines the end-to-end rate is divided by
BASELINES = ('plain_eager', 'plain_graphed')


def significant(value: float, digits: int = 5) -> float:
    """``value`` rounded to ``digits`` significant digits (rates span 1 to 100,000/s)."""
    return float(f'{value:.{digits}g}')


def summarise(name: str, windows: Sequence[Window], gpu_busy_ms: Optional[float],
              images_per_step: int, views_per_step: int, on_cuda: bool) -> Dict[str, object]:
    """JSON fields ``{name}_...`` of one variant: ms per step (median of the repeats, with
    min / max and every repeat), images / views per second from the median, GPU-busy ms
    per step (``None`` on CPU) and host ms per step (median of the repeats; on CPU the
    host does all the work, so it is the wall time)."""
    if not windows:
        raise ValueError(f'{name}: no timed window')
    ms = [w.ms_per_step for w in windows]
    median = statistics.median(ms)
    host = statistics.median(w.host_ms_per_step for w in windows) if on_cuda else median
    return {
        f'{name}_ms_per_step': round(median, 3),
        f'{name}_ms_per_step_min': round(min(ms), 3),
        f'{name}_ms_per_step_max': round(max(ms), 3),
        f'{name}_ms_per_step_repeats': [round(v, 3) for v in ms],
        f'{name}_images_per_s': significant(1000.0 * images_per_step / median),
        f'{name}_views_per_s': significant(1000.0 * views_per_step / median),
        f'{name}_gpu_busy_ms_per_step': None if gpu_busy_ms is None else round(gpu_busy_ms, 3),
        f'{name}_host_ms_per_step': round(host, 3),
    }


def absent(name: str, reason: str) -> Dict[str, object]:
    """JSON fields of a variant that could not run, with the reason."""
    fields = ('ms_per_step', 'ms_per_step_min', 'ms_per_step_max', 'ms_per_step_repeats',
              'images_per_s', 'views_per_s', 'gpu_busy_ms_per_step', 'host_ms_per_step')
    return {**{f'{name}_{f}': None for f in fields}, f'{name}_reason': reason}


def ratios(result: Dict[str, object]) -> Dict[str, Optional[float]]:
    """``ratio_to_{baseline}``: end-to-end views/s over the baseline's, both as reported
    (``None`` where the baseline did not run)."""
    out = {}
    ours = result['end_to_end_views_per_s']
    for base in BASELINES:
        theirs = result.get(f'{base}_views_per_s')
        out[f'ratio_to_{base}'] = None if not ours or not theirs else round(ours / theirs, 4)
    return out


def _cell(value, fmt: str = '{:.2f}') -> str:
    return '—' if value is None else fmt.format(value)


def table(result: Dict[str, object]) -> List[str]:
    """Lines of the human-readable table of a throughput result."""
    head = (f"{result['config']} on {result['device']}: batch {result['images_per_step']} "
            f"images = {result['views_per_step']} views per step, "
            f"{'bf16 autocast' if result['amp'] else 'fp32'}"
            f"{', channels_last' if result['channels_last'] else ''}, "
            f"median of {result['repeats']} x {result['iters']} steps")
    lines = [head, f"{'variant':<14} {'ms/step':>9} {'min-max':>17} {'images/s':>10} "
                   f"{'views/s':>10} {'GPU-busy ms':>11} {'host ms':>9} {'e2e / this':>10}"]
    for name in VARIANTS:
        ms = result.get(f'{name}_ms_per_step')
        if ms is None:
            lines.append(f"{name:<14} not run: {result.get(f'{name}_reason')}")
            continue
        spread = f"{result[f'{name}_ms_per_step_min']:.2f}-{result[f'{name}_ms_per_step_max']:.2f}"
        ratio = result.get(f'ratio_to_{name}') if name != 'end_to_end' else 1.0
        lines.append(f"{name:<14} {ms:>9.2f} {spread:>17} {result[f'{name}_images_per_s']:>10.1f} "
                     f"{result[f'{name}_views_per_s']:>10.1f} "
                     f"{_cell(result[f'{name}_gpu_busy_ms_per_step']):>11} "
                     f"{result[f'{name}_host_ms_per_step']:>9.2f} {_cell(ratio, '{:.3f}'):>10}")
    return lines
