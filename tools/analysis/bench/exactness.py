"""How far a reduced-precision discovery (bf16 / fp16 similarities) is from the fp32
reference on the same bank: the anchors and nearest neighbours that differ, and for each
difference whether it is a tie within the reduced precision's rounding.

* A **neighbour** difference (row ``i``: fp32 picks ``j``, the reduced path ``j'``) is a
  tie when the fp32 similarity gap ``m_i·m_j - m_i·m_j'`` is within the rounding of the
  two similarities in the reduced format: the error that rounding the rows to it puts
  into each of the two dot products (computed exactly for the pair) plus one spacing of
  the format at ``|m_i·m_j|`` for rounding the two products (bf16: ``2^(floor(log2|s|)
  - 7)``, 0.0039 at 0.9). Within it, the two similarities cannot be told apart.
* An **anchor** difference (row ``i`` on the other side of the lowest-entropy cut) is a
  tie when its fp32 entropy is within the entropy resolution of the cut: the fp32 gap to
  the last fp32 anchor (a row the reduced path adds) or to the first fp32 non-anchor (a
  row it drops). The resolution is the spacing of the format at the largest logit
  ``1/τ`` (bf16, τ = 0.1: 0.0625): a logit near ``1/τ`` held in the format, or computed
  from rows rounded to it (a relative error up to twice the format's unit roundoff), is
  known to about that, and logits moved by ``δ`` move a row's entropy by at most
  ``δ · E_p|z - E_p z|``. The report also gives the largest entropy error measured.
"""
import contextlib
from typing import Dict, Iterator, List, Optional, Tuple

import torch

from selfemb.models.utils import nearest_neighbours, num_anchors, select_anchors
from selfemb.models.utils.neighbourhood import auto_chunk_size, blocked_entropy


def spacing(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The distance between adjacent numbers of ``dtype`` at ``|values|`` (its ulp)."""
    exponent = torch.floor(torch.log2(values.abs().clamp_min(torch.finfo(dtype).tiny)))
    return torch.finfo(dtype).eps * torch.pow(2.0, exponent)


@contextlib.contextmanager
def full_fp32() -> Iterator[None]:
    """fp32 matmuls without TF32 (the reference must be fp32 all the way)."""
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision('highest')
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


@torch.no_grad()
def fp32_reference(bank: torch.Tensor, temperature: float, select_rate: float,
                   chunk_size: Optional[int]) -> Dict[str, torch.Tensor]:
    """Entropy (blocked, fp32), nearest other row (fp32) and anchors of round 1."""
    chunk = chunk_size or auto_chunk_size(len(bank), bank.device)
    with full_fp32():
        entropy = blocked_entropy(bank, temperature, chunk, torch.float32)
        neighbours = nearest_neighbours(bank, 1, chunk, torch.float32)
    anchors = select_anchors(entropy, num_anchors(len(bank), 1, select_rate))
    return dict(entropy=entropy, neighbours=neighbours, anchors=anchors)


@torch.no_grad()
def exactness_report(bank: torch.Tensor, reference: Dict[str, torch.Tensor],
                     result: Dict[str, torch.Tensor], dtype: torch.dtype, temperature: float,
                     max_listed: int = 20) -> Dict[str, object]:
    """Differences of ``result`` (``entropy``, ``neighbours`` N x 1, ``anchors``) from the
    fp32 ``reference``, each classified as a tie or not (see the module docstring); the
    differences that are not ties are listed first, at most ``max_listed`` of each kind."""
    for name in ('entropy', 'neighbours', 'anchors'):
        if reference[name].shape != result[name].shape:
            raise ValueError(f'exactness_report: {name} of shape {tuple(result[name].shape)} '
                             f'against a reference of {tuple(reference[name].shape)}')
    if reference['neighbours'].dim() != 2 or reference['neighbours'].size(1) != 1:
        raise ValueError('exactness_report compares the nearest neighbour (k = 1); got '
                         f"neighbours of shape {tuple(reference['neighbours'].shape)}")
    with full_fp32():
        neighbours = _neighbour_differences(bank.float(), reference['neighbours'][:, 0],
                                            result['neighbours'][:, 0], dtype)
    anchors = _anchor_differences(reference['entropy'].float(), reference['anchors'],
                                  result['anchors'], dtype, temperature)
    report: Dict[str, object] = {'precision': str(dtype).replace('torch.', '')}
    for kind, rows in (('neighbours', neighbours), ('anchors', anchors)):
        ties = sum(r['tie'] for r in rows)
        report.update({
            f'{kind}_differing': len(rows), f'{kind}_differing_ties': ties,
            f'{kind}_differing_not_ties': len(rows) - ties,
            f'{kind}_differences': sorted(rows, key=lambda r: r['tie'])[:max_listed]})
    report['entropy_max_abs_error'] = round(float(
        (result['entropy'].float() - reference['entropy'].float()).abs().max()), 6)
    report['entropy_resolution'] = entropy_resolution(dtype, temperature)
    report['exact_up_to_ties'] = (report['neighbours_differing_not_ties'] == 0
                                  and report['anchors_differing_not_ties'] == 0)
    return report


def _neighbour_differences(bank: torch.Tensor, ref: torch.Tensor, got: torch.Tensor,
                           dtype: torch.dtype) -> List[Dict[str, object]]:
    rows = (ref != got).nonzero()[:, 0]
    if rows.numel() == 0:
        return []
    rounded = bank[rows].to(dtype).float()

    def similarity(cols: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """fp32 similarity of each row to ``cols`` and the error rounding puts into it."""
        exact = (bank[rows] * bank[cols]).sum(1)
        return exact, (rounded * bank[cols].to(dtype).float()).sum(1) - exact

    ours, ours_error = similarity(ref[rows])
    theirs, theirs_error = similarity(got[rows])
    gaps = ours - theirs
    resolution = spacing(ours, dtype) + ours_error.abs() + theirs_error.abs()
    rows, ref, got, ours, gaps, resolution = (
        t.cpu() for t in (rows, ref, got, ours, gaps, resolution))  # no sync per item
    return [dict(row=int(i), fp32=int(a), reduced=int(b), fp32_similarity=round(float(s), 6),
                 fp32_gap=float(f'{float(g):.3g}'), resolution=float(f'{float(r):.3g}'),
                 tie=bool(g <= r))
            for i, a, b, s, g, r in zip(rows, ref[rows], got[rows], ours, gaps, resolution)]


def entropy_resolution(dtype: torch.dtype, temperature: float) -> float:
    """The spacing of ``dtype`` at the largest logit ``1 / temperature``."""
    return float(spacing(torch.tensor(1.0 / temperature), dtype))


def _anchor_differences(entropy: torch.Tensor, ref: torch.Tensor, got: torch.Tensor,
                        dtype: torch.dtype, temperature: float) -> List[Dict[str, object]]:
    entropy, ref, got = entropy.cpu(), ref.cpu(), got.cpu()  # no sync per item
    rows = (ref != got).nonzero()[:, 0]
    if rows.numel() == 0:
        return []
    last_anchor = entropy[ref].max()
    first_other = entropy[~ref].min()
    resolution = entropy_resolution(dtype, temperature)
    out = []
    for i in rows.tolist():
        added = bool(got[i])  # the reduced path makes it an anchor, fp32 does not
        gap = float(entropy[i] - last_anchor) if added else float(first_other - entropy[i])
        out.append(dict(row=i, change='added' if added else 'dropped',
                        fp32_entropy=round(float(entropy[i]), 6),
                        fp32_gap=float(f'{gap:.3g}'), resolution=resolution,
                        tie=gap <= resolution))
    return out
