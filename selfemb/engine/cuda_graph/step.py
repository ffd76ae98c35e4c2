"""The whole training step (augmentation, forward, loss, backward, optimizer step, memory
update) replayed from one CUDA graph per batch shape."""
import time
import types
from collections import Counter
from typing import Any, Callable, Dict, Hashable, List, Optional

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ..model_loading import unwrap
from .checks import GraphRefusedError, check_capturable
from .state import Fingerprint, StaticBatch, batch_signature, changed_state, describe, held_state

#: eager DDP iterations PyTorch asks for before capturing DDP's backward with NCCL
DDP_WARMUP = 11


def takes_device_lr(group: dict) -> bool:
    """Whether the optimizer reads this group's lr from a tensor inside a graph: the fused
    and capturable implementations do (``torch.optim.SGD(fused=True)``, ``Adam(fused=True)``
    or ``capturable=True``); the others turn a tensor lr into a host number."""
    return bool(group.get('fused') or group.get('capturable')) and \
        not isinstance(group['lr'], Tensor)


class _Captured:
    """One batch shape: its static batch, graph (None on the CPU), outputs, fingerprint."""

    def __init__(self, inputs: StaticBatch, graph: Optional['torch.cuda.CUDAGraph'],
                 outputs: Dict[str, Tensor], fingerprint: Fingerprint,
                 recaptured: bool) -> None:
        self.inputs, self.graph, self.outputs = inputs, graph, outputs
        self.fingerprint, self.baked = fingerprint, fingerprint()
        self.recaptured, self.replays = recaptured, 0


class GraphedTrainStep:
    """``model.train_step(data, optim_wrapper)``, captured once per batch shape and replayed.

    Per batch shape: ``warmup`` real eager steps (on a side stream, as PyTorch's
    whole-network capture asks), then the model's own ``train_step`` on a static copy of
    the batch is captured in one ``torch.cuda.CUDAGraph`` and replayed for every later
    batch of that shape (the batch is copied in; the outputs, the step's log variables,
    are cloned for the logger). On the CPU nothing is captured: the same static step runs
    as it is, so the CPU tests check the code a GPU captures.

    * Learning rates: mmengine's schedulers keep writing ``param_group['lr']`` as a number.
      A group whose optimizer reads a tensor lr in a graph (:func:`takes_device_lr`: fused
      SGD, fused / capturable Adam) gets a device tensor, swapped in only while the step is
      captured (or run, on the CPU) and refreshed from the number before every replay; a
      CUDA tensor is float32 (what the fused kernels read), a CPU one float64 (exact).
      Other groups' lr, like every other hyper-parameter, is baked in.
    * Re-capture: before a replay, a :class:`~.state.Fingerprint` (addresses of parameters,
      buffers and optimizer state; hyper-parameters; modules' scalar attributes) is
      compared with the one taken at capture; any change (a loaded optimizer state, a new
      bank, a baked lr changed by the schedule, ``eval()``) re-captures, with a log line.
      A change again at the first step after a re-capture (a baked lr scheduled per
      iteration, a tensor re-allocated every step) is an error naming it.
    * Another batch shape runs eagerly, with one log line, for its own ``warmup`` steps,
      and is then captured; beyond ``max_graphs`` shapes it stays eager.
    * Refused, with an error naming the setting (:func:`~.checks.refusals`): a model whose
      ``graph_blocker`` is set, gradient accumulation, a loss scaler, ``clip_grad``,
      ``NonFiniteSkipOptimWrapper``, several optimizers, DDP's ``find_unused_parameters``;
      and a step that, in its last warm-up step, changes module attributes held in Python
      (:func:`~.state.held_state`) or whose capture fails (a host synchronisation).
    * Random numbers: warm-up steps draw as eager steps do; capturing draws nothing, and
      each replay advances torch's CUDA generator by what the step's kernels use, as eager
      kernels would, so the states :class:`RandomStateHook` saves make ``--resume`` exact.
    * DDP: ``warmup`` is raised to 11 (PyTorch's condition for capturing DDP with NCCL).

    Args:
        model: ``runner.model`` (possibly a DDP wrapper) before installation.
        optim_wrapper: The run's optim wrapper.
        warmup: Eager steps per batch shape before capture (at least 1: the optimizer's
            state, cuDNN's algorithms and lazy initialisations exist before capture).
        max_graphs: Batch shapes captured at most.
        log: Where the log lines go (mmengine's current logger by default).
    """

    def __init__(self, model: nn.Module, optim_wrapper: OptimWrapper, warmup: int = 3,
                 max_graphs: int = 2, log: Optional[Callable[[str], Any]] = None) -> None:
        if warmup < 1 or max_graphs < 1:
            raise ValueError(f'cuda_graph needs warmup >= 1 and max_graphs >= 1, got '
                             f'warmup={warmup}, max_graphs={max_graphs}')
        if 'train_step' in vars(model):
            raise RuntimeError(f'{type(model).__name__}.train_step is already replaced '
                               f'({vars(model)["train_step"]!r})')
        check_capturable(model, optim_wrapper)
        self.model, self.optim_wrapper, self.max_graphs = model, optim_wrapper, max_graphs
        self.log = log or (lambda msg: print_log(msg, logger='current'))
        self._eager = types.MethodType(type(model).train_step, model)
        param = next(model.parameters())
        self.device = param.device
        self.capture = self.device.type == 'cuda'
        if self.capture and isinstance(model, DistributedDataParallel) and warmup < DDP_WARMUP:
            self.log(f'cuda_graph: warmup {warmup} -> {DDP_WARMUP} eager steps (DDP)')
            warmup = DDP_WARMUP
        self.warmup = warmup
        groups = optim_wrapper.optimizer.param_groups
        dtype = torch.float32 if self.capture else torch.float64
        self._lr: List[Optional[Tensor]] = [
            torch.tensor(float(g['lr']), dtype=dtype, device=g['params'][0].device)
            if takes_device_lr(g) else None for g in groups]
        self._lr_value = [g['lr'] for g in groups]
        self._graphs: Dict[Hashable, _Captured] = {}
        self._eager_steps: Counter = Counter()
        self._noted: set = set()
        self.captures = self.replays = 0
        self._side = torch.cuda.Stream(self.device) if self.capture else None

    def __repr__(self) -> str:
        return (f'GraphedTrainStep({type(unwrap(self.model)).__name__}, warmup={self.warmup}, '
                f'graphs={len(self._graphs)}, captures={self.captures}, '
                f'replays={self.replays})')

    def __call__(self, data: Any, optim_wrapper: Optional[OptimWrapper] = None
                 ) -> Dict[str, Tensor]:
        if optim_wrapper is not None and optim_wrapper is not self.optim_wrapper:
            raise ValueError('cuda_graph: train_step was given another optim wrapper than '
                             'the one the graph was built for')
        signature, recapture = batch_signature(data), False
        entry = self._graphs.get(signature)
        if entry is not None:
            now = entry.fingerprint()
            if now != entry.baked:
                self._note_recapture(signature, entry, now)
                del self._graphs[signature]
                entry = None
                recapture = True
        if entry is None:
            seen = self._eager_steps[signature]
            if seen < self.warmup or len(self._graphs) >= self.max_graphs:
                self._note_eager(signature, seen)
                self._eager_steps[signature] = seen + 1
                return self._eager_step(data, check_state=seen == self.warmup - 1)
            return self._capture(signature, data, recapture)
        entry.replays += 1
        entry.inputs.load(data)
        self._write_lr()
        if entry.graph is not None:
            entry.graph.replay()
            self.optim_wrapper._inner_count += 1  # what update_params counts, as eager
        else:
            entry.outputs = self.static_step(entry.inputs.data)
        self.replays += 1
        return _detached(entry.outputs)

    # ---- the step that is captured -------------------------------------------------------
    def static_step(self, data: Any) -> Dict[str, Tensor]:
        """The model's ``train_step`` on the static batch, with the device-tensor learning
        rates swapped into their param groups for its duration: what is captured on CUDA
        and run as it is on the CPU."""
        groups = self.optim_wrapper.optimizer.param_groups
        numbers = [g['lr'] for g in groups]
        try:
            for group, lr in zip(groups, self._lr):
                if lr is not None:
                    group['lr'] = lr
            outputs = self._eager(data, self.optim_wrapper)
        finally:
            for group, number in zip(groups, numbers):
                group['lr'] = number
        if not isinstance(outputs, dict) or not all(isinstance(v, Tensor)
                                                    for v in outputs.values()):
            raise GraphRefusedError('cuda_graph: train_step must return a dict of tensors '
                                    f'(the log variables), got {type(outputs).__name__}')
        return outputs

    def _write_lr(self) -> None:
        """Copy each scheduled lr into its device tensor (a fill kernel, no host read)."""
        for i, (group, lr) in enumerate(zip(self.optim_wrapper.optimizer.param_groups,
                                            self._lr)):
            if lr is not None and group['lr'] != self._lr_value[i]:
                lr.fill_(group['lr'])
                self._lr_value[i] = group['lr']

    def _capture(self, signature: Hashable, data: Any, recapture: bool) -> Dict[str, Tensor]:
        start = time.perf_counter()
        inputs = StaticBatch(data, self.device)
        self._write_lr()
        graph = None
        if not self.capture:
            outputs = self.static_step(inputs.data)
        else:
            graph = torch.cuda.CUDAGraph()
            try:
                # thread_local: other threads (NCCL's watchdog) may keep calling CUDA
                with torch.cuda.graph(graph, capture_error_mode='thread_local'):
                    outputs = self.static_step(inputs.data)
            except GraphRefusedError:
                raise
            except Exception as err:
                raise GraphRefusedError(
                    f'cuda_graph: capturing {type(unwrap(self.model)).__name__}.train_step '
                    f'failed: {err}\nThe step must have no host synchronisation (.item(), '
                    '.cpu(), printing a tensor, boolean-mask indexing, nonzero) and no '
                    'data-dependent shapes; train without cuda_graph.') from err
            graph.replay()
        fingerprint = Fingerprint(self.model, self.optim_wrapper.optimizer,
                                  [lr is not None for lr in self._lr])
        self._graphs[signature] = _Captured(inputs, graph, outputs, fingerprint, recapture)
        self.captures += 1
        self.replays += graph is not None
        what = 'captured' if graph is not None else 'built (CPU: run, not captured)'
        self.log(f'cuda_graph: training step for batch {describe(signature)} {what} after '
                 f'{self._eager_steps[signature]} eager steps, '
                 f'{1e3 * (time.perf_counter() - start):.0f} ms')
        return _detached(outputs)

    def _eager_step(self, data: Any, check_state: bool) -> Dict[str, Tensor]:
        """A real eager step; on CUDA on the side stream. With ``check_state`` (the last
        warm-up step), a step that changes Python-held module state is refused."""
        before = held_state(unwrap(self.model)) if check_state else None
        if self._side is None:
            outputs = self._eager(data, self.optim_wrapper)
        else:
            current = torch.cuda.current_stream(self.device)
            self._side.wait_stream(current)
            with torch.cuda.stream(self._side):
                outputs = self._eager(data, self.optim_wrapper)
            current.wait_stream(self._side)
        if before is not None:
            changed = changed_state(before, held_state(unwrap(self.model)))
            if changed:
                raise GraphRefusedError(
                    f'cuda_graph: every step of {type(unwrap(self.model)).__name__} changes '
                    f'{changed}: state kept in Python attributes, which a replayed graph '
                    'would not renew (keep it in registered buffers, updated in place); '
                    'train without cuda_graph.')
        return outputs

    # ---- log lines ------------------------------------------------------------------------
    def _note_eager(self, signature: Hashable, seen: int) -> None:
        """One line the first time a shape other than a captured one runs eagerly."""
        if signature in self._noted or not self._graphs:
            return
        self._noted.add(signature)
        if len(self._graphs) >= self.max_graphs:
            then = f'(max_graphs={self.max_graphs} shapes are captured already)'
        else:
            then = f'for its first {self.warmup} steps, then is captured'
        self.log(f'cuda_graph: a batch of another shape ({describe(signature)}) runs '
                 f'eagerly {then}')

    def _note_recapture(self, signature: Hashable, entry: _Captured, new: tuple) -> None:
        old = entry.baked
        reason = entry.fingerprint.explain(old, new)
        if entry.recaptured and entry.replays == 0:
            hint = ('the optimizer reads it as a Python number baked into the graph: use a '
                    'fused optimizer (optim_wrapper.optimizer.fused=True for SGD) so the lr '
                    'lives in a device tensor, or a per-epoch schedule' if old[1] != new[1]
                    else 'keep the tensors the step reads at fixed addresses (update them '
                    'in place) and its numbers constant between steps')
            raise GraphRefusedError(f'cuda_graph: {reason}, on two steps in a row, so every '
                                    f'step would re-capture; {hint}.')
        self.log(f'cuda_graph: re-capturing the step for batch {describe(signature)}: '
                 f'{reason}')


def _detached(outputs: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Copies of the static outputs, so the next replay does not overwrite what the
    logger holds."""
    return {key: value.detach().clone() for key, value in outputs.items()}
