# Runtime shared by every selfemb config.
# selfemb's registries import their modules lazily (``locations``), so no
# custom_imports is needed; a user's own modules go in ``custom_imports``.
default_scope = 'selfemb'
# selfemb.engine.SelfembRunner: checkpoints load only into the model that made them,
# relative last_checkpoint, no silent empty or finished runs (docs/reliability.md)
runner_type = 'SelfembRunner'

default_hooks = dict(
    # mmengine's RuntimeInfoHook, with the losses kept on the device until the logger (or
    # a checkpoint, an epoch end) reads them: no host synchronisation per iteration
    runtime_info=dict(type='DeferredRuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # saves before it deletes, relative last_checkpoint, tensors-only files (weights_only)
    checkpoint=dict(type='SafeCheckpointHook', interval=10, max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    memory_init=dict(type='MemoryInitHook'),  # sizes banks from len(train dataset)
    random_state=dict(type='RandomStateHook'),  # exact --resume
    # stop at the first NaN / Inf loss; a non-finite state is never saved
    nonfinite_guard=dict(type='NonFiniteGuardHook'),
)

env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # --cfg-options env_cfg.dist_cfg.backend=gloo on CPU
)
# Memories are replicated and updated identically on every rank: never broadcast them.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', broadcast_buffers=False)

vis_backends = [dict(type='LocalVisBackend')]  # add dict(type='TensorboardVisBackend')
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
# The whole training step replayed from one CUDA graph per batch shape (GPU only; methods
# whose step is not static are refused by name): tools/train.py --cuda-graph, or
# --cfg-options cuda_graph.enable=True (docs/components.md, "CUDA graph step").
cuda_graph = dict(enable=False, warmup=3, max_graphs=2)
