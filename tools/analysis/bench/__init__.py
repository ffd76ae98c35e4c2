"""The pieces of ``tools/analysis/benchmark.py``: clocks (``timing``), summaries and the
table (``report``), config edits (``config``), the end-to-end Runner-loop timing
(``runner_loop``), the plain eager / CUDA-graphed baselines (``plain``), InterCLR / CLD
part timers (``parts``), and AND's discovery timing (``discovery``) with its fp32
exactness report (``exactness``)."""
