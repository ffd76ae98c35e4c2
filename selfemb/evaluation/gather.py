"""Rows of every rank in sample order: the distributed half of feature extraction."""
from typing import Dict, List, Sequence, Tuple

import torch
from mmengine import dist

_GATHER_ROWS = 1 << 16  # rows per all_gather call, bounds communication buffers


def gather_rows(local: torch.Tensor) -> torch.Tensor:
    """All-gather the rows of a CPU tensor whose length may differ across ranks."""
    if dist.get_world_size() == 1:
        return local
    width = local.shape[1] if local.dim() == 2 else 0
    meta = dist.all_gather(torch.tensor([local.shape[0], width]))
    sizes, width = [int(t[0]) for t in meta], max(int(t[1]) for t in meta)
    if local.dim() == 2 and local.shape[1] != width:  # an empty shard does not know D
        local = local.new_zeros(0, width)
    padded = torch.cat([local, local.new_zeros(max(sizes) - len(local), *local.shape[1:])])
    blocks = [dist.all_gather(padded[s:s + _GATHER_ROWS])
              for s in range(0, len(padded), _GATHER_ROWS)]
    return torch.cat([torch.cat([b[r] for b in blocks])[:n] for r, n in enumerate(sizes)])


def sample_indices(data_samples, batch_size: int) -> torch.Tensor:
    """The ``sample_idx`` of every data sample of a batch (int64)."""
    if data_samples is None or len(data_samples) != batch_size:
        raise ValueError('extract_embeddings needs one data sample per input with its sample_idx '
                         '(pack it with PackInputs, meta_keys including "sample_idx")')
    idx = [s.get('sample_idx') if isinstance(s, dict) else getattr(s, 'sample_idx', None)
           for s in data_samples]
    if any(i is None for i in idx):
        raise ValueError('a data sample has no "sample_idx"; add it to PackInputs(meta_keys=...)')
    return torch.as_tensor([int(i) for i in idx], dtype=torch.int64)


def gather_in_sample_order(local: Dict[str, List[torch.Tensor]], idxs: Sequence[torch.Tensor],
                           keep_here: bool = True) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
    """Gather every rank's rows of each ``local[name]`` (batches of features) and of
    ``idxs`` (their sample indices), sort them by sample index and drop the duplicates of
    sampler padding. ``local`` is emptied as it goes (bounds host memory). Returns
    ``({name: (N, D)}, (N,) indices)``; with ``keep_here=False`` the rows are gathered (a
    collective) but ``({}, indices)`` is returned."""
    local_idx = torch.cat(list(idxs)) if idxs else torch.zeros(0, dtype=torch.int64)
    all_idx, order = torch.sort(gather_rows(local_idx), stable=True)
    keep = torch.ones_like(all_idx, dtype=torch.bool)
    keep[1:] = all_idx[1:] != all_idx[:-1]
    rows, out = order[keep], {}
    for name in list(local):
        mine = torch.cat(list(local.pop(name))) if idxs else torch.zeros(0, 0)
        gathered = gather_rows(mine)
        if keep_here:
            out[name] = gathered[rows].contiguous()
        del gathered
    return out, all_idx[keep].contiguous()
