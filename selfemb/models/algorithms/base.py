"""Common base of selfemb's algorithms: backbone -> neck -> head, plus optional memory."""
from typing import Dict, Iterator, List, Optional, Sequence, Union

import torch
from mmengine.logging import MessageHub
from mmpretrain.models.selfsup import BaseSelfSupervisor
from torch import nn

from selfemb.registry import MODELS

from ..heads import InstanceBatch
from ..memories import BaseMemory, NeighbourhoodMemory, SimpleMemory

#: message-hub key of the epoch within the AND round (``NeighbourhoodDiscoveryHook``)
EPOCH_IN_ROUND_KEY = 'and_epoch_in_round'
#: ``graph_blocker`` of a method whose ODCMemory keeps its flush schedule on the host
#: (InterCLR)
ODC_HOST_SCHEDULE = (
    'decides its ODCMemory flush on the host: whether a batch is queued '
    '(ODCMemory._queued), whether to re-average the centroids or refill small clusters '
    '(a flush count kept in Python), and refills small clusters by reading cluster sizes '
    'and splitting clusters one by one (data-dependent host control flow); its relabel '
    'also replaces the label_change buffer every step')


class EmbeddingAlgorithm(BaseSelfSupervisor):
    """A self-supervised embedding learner built on mmpretrain's ``BaseSelfSupervisor``.

    Subclasses implement ``loss(inputs, data_samples)`` where ``inputs`` is the list of
    view batches produced by the data preprocessor. They read their memory and hand
    their heads tensors (see ``selfemb.models.heads``). :meth:`embed` (backbone + neck,
    the L2-normalised embedding) is what the kNN evaluation uses.

    Args:
        backbone, neck, head: Configs of the parts (mmpretrain backbones with their scope,
            e.g. ``dict(type='mmpretrain.ResNet_CIFAR', depth=18)``).
        memory: Optional memory config; sized from the dataset by ``MemoryInitHook``.
        data_preprocessor: Defaults to selfemb's ``SelfSupPreprocessor``; with its
            ``channels_last=True`` the backbone is converted to channels_last too.
    """

    #: state-dict keys renamed since older checkpoints, old -> new: a whole key, or a
    #: prefix when it ends with ``.``; applied by :meth:`upgrade_state_dict` on every load,
    #: so those checkpoints keep loading
    renamed_keys: Dict[str, str] = {}
    #: why ``train_step`` cannot yet be captured as one CUDA graph (``cuda_graph`` in a
    #: config, :mod:`selfemb.engine.cuda_graph`); ``None`` when it can: fixed shapes, no
    #: host synchronisation, no state kept in Python between steps
    graph_blocker: Optional[str] = 'has not declared its step static'

    def __init__(self, backbone: dict, neck: Optional[dict] = None, head: Optional[dict] = None,
                 memory: Optional[Union[dict, nn.Module]] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if isinstance(data_preprocessor, dict):
            data_preprocessor.setdefault('type', 'SelfSupPreprocessor')
        super().__init__(backbone=backbone, neck=neck, head=head,
                         data_preprocessor=data_preprocessor or dict(type='SelfSupPreprocessor'),
                         init_cfg=init_cfg)
        if memory is not None and not isinstance(memory, nn.Module):
            memory = MODELS.build(memory)
        self.memory = memory
        if getattr(self.data_preprocessor, 'channels_last', False):
            # inputs arrive channels_last: keep the convolutions in the same layout
            self.backbone.to(memory_format=torch.channels_last)
        if self.renamed_keys:
            self._register_load_state_dict_pre_hook(self._upgrade_on_load)

    @classmethod
    def upgrade_state_dict(cls, state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``state`` with the keys of older checkpoints renamed (:attr:`renamed_keys`)."""
        if not cls.renamed_keys:
            return state
        renamed = {}
        for key, value in state.items():
            plain = key[len('module.'):] if key.startswith('module.') else key
            for old, new in cls.renamed_keys.items():
                if plain == old or (old.endswith('.') and plain.startswith(old)):
                    key = new + plain[len(old):]
                    break
            renamed[key] = value
        return renamed

    def _upgrade_on_load(self, state_dict, prefix, *args) -> None:
        own = {k[len(prefix):]: k for k in state_dict if k.startswith(prefix)}
        upgraded = self.upgrade_state_dict({k: state_dict[full] for k, full in own.items()})
        for full in own.values():
            del state_dict[full]
        state_dict.update({prefix + k: v for k, v in upgraded.items()})

    def views(self, inputs: Sequence[torch.Tensor], num_views: int) -> List[torch.Tensor]:
        """The first ``num_views`` view batches; the one check of the number of views and
        of their batch sizes."""
        if len(inputs) < num_views:
            word = {1: 'one', 2: 'two', 3: 'three'}.get(num_views, str(num_views))
            raise ValueError(f'{type(self).__name__} needs {num_views} views: {word} views per '
                             f'image, got {len(inputs)}; set the pipeline / data preprocessor '
                             f'to num_views={num_views}')
        views = list(inputs[:num_views])
        sizes = [v.size(0) for v in views]
        if len(set(sizes)) > 1:
            raise ValueError(f'{type(self).__name__}: views of {sizes} images; every view '
                             'must hold the same images')
        return views

    def instance_batch(self, views: List[torch.Tensor],
                       indices: Optional[torch.Tensor]) -> InstanceBatch:
        """An instance-family head's input: the embedded views plus what the memory holds
        for ``indices`` (the bank flushed by :meth:`SimpleMemory.current_bank`; AND's
        neighbourhoods and the epoch within the round)."""
        batch = InstanceBatch(views=views, indices=indices)
        if indices is not None and indices.numel() != views[0].size(0):
            sizes = ' and '.join(str(v.size(0)) for v in views)
            raise ValueError(f'{type(self).__name__}: views of {sizes} images for '
                             f'{indices.numel()} data samples')
        if isinstance(self.memory, SimpleMemory):
            batch.bank = self.memory.current_bank()
        if isinstance(self.memory, NeighbourhoodMemory) and indices is not None:
            batch.neighbours, batch.anchor = self.memory.neighbourhood(indices)
            epoch = MessageHub.get_current_instance().get_info(EPOCH_IN_ROUND_KEY)
            batch.round_epoch = None if epoch is None else int(epoch)
        return batch

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """The embedding of a normalised image batch: ``neck(backbone(x))``."""
        feats = self.extract_feat(inputs)
        return self.neck(feats) if self.with_neck else feats[-1].flatten(1)

    def memories(self) -> Iterator[BaseMemory]:
        """Every dataset-sized memory inside this model."""
        return (m for m in self.modules() if isinstance(m, BaseMemory))
