"""The baselines: a plain PyTorch loop over the same model on one fixed, already
pre-processed batch (``model(**batch, mode='loss')``, the loss terms summed as mmengine
does, backward, ``torch.optim.SGD`` with the config's settings, fused on CUDA), with the
same precision (bf16 autocast for ``--amp``) and memory format, and no host
synchronisation; and the same step captured once as a CUDA graph and replayed (the
whole-network capture of the PyTorch "CUDA Graphs" notes: warm-up on a side stream,
gradients set to None before capture so that backward allocates them from the graph's
pool, autocast without its cache)."""
from typing import Callable, Dict, Tuple

import torch
from torch import Tensor, nn

#: eager steps run on a side stream before the capture (the PyTorch notes use 3)
GRAPH_WARMUP_STEPS = 3


def total_loss(losses: Dict[str, object]) -> Tensor:
    """The sum of the ``*loss*`` terms, each averaged (mmengine's ``parse_losses``)."""
    terms = []
    for name, value in losses.items():
        if 'loss' not in name:
            continue
        if isinstance(value, Tensor):
            terms.append(value.mean())
        elif isinstance(value, (list, tuple)) and all(isinstance(v, Tensor) for v in value):
            terms.extend(v.mean() for v in value)
        else:
            raise TypeError(f'loss term {name!r} is a {type(value).__name__}, not a tensor or '
                            'a list of tensors')
    if not terms:
        raise ValueError(f'the model returned no loss term (keys: {sorted(losses)})')
    return sum(terms[1:], terms[0])


class PlainLoop:
    """One training step of ``model`` on ``batch`` (``dict(inputs=..., data_samples=...)``
    as the data preprocessor returns it), in plain PyTorch."""

    def __init__(self, model: nn.Module, batch: dict, sgd: Dict[str, object],
                 device: torch.device, amp: bool) -> None:
        self.model, self.batch, self.device, self.amp = model.train(), batch, device, amp
        params = [p for p in model.parameters() if p.requires_grad]
        fused = {'fused': True} if device.type == 'cuda' else {}
        self.optimizer = torch.optim.SGD(params, **sgd, **fused)

    def forward_backward_update(self, autocast_cache: bool = True) -> Tensor:
        """Loss, backward and optimizer step (the gradients must be zero or None)."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp,
                            cache_enabled=autocast_cache):
            loss = total_loss(self.model(**self.batch, mode='loss'))
        loss.backward()
        self.optimizer.step()
        return loss

    def eager_step(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.forward_backward_update()

    def capture(self) -> Tuple[Callable[[], None], Tensor]:
        """``(replay, static_loss)``: the step captured as one CUDA graph."""
        if self.device.type != 'cuda':
            raise RuntimeError(f'CUDA graphs need a CUDA device; this run is on {self.device}')
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(GRAPH_WARMUP_STEPS):
                self.optimizer.zero_grad(set_to_none=True)
                self.forward_backward_update(autocast_cache=False)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)  # backward allocates from the graph pool
        with torch.cuda.graph(graph):
            static_loss = self.forward_backward_update(autocast_cache=False)
        return graph.replay, static_loss
