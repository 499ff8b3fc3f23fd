"""The engines that visit an iteration's events (docs/method.md section 7), all with the same decisions.

- ``numpy`` (``engines.numpy``): the reference, ``AttackState.choose`` and ``apply``, vectorised per
  event over features and candidates;
- ``cpu`` (``engines.cpu``): the same loop compiled with numba, bit-identical to numpy;
- ``naive`` (``engines.naive``): the numpy loop with every histogram and co-moment recomputed from
  scratch before each event, the cost of the paper's reference code (O(n d^2) per event); a
  baseline for benchmarks and a second oracle;
- ``cuda`` (``engines.cuda``): the same loop on an NVIDIA GPU; with ``batch_events`` B > 1 it runs
  the approximate batched mode instead (B events against the same statistics);
- ``auto``: ``cpu``, also on a GPU machine: measured on an H100, the exact GPU mode is slower than
  the compiled CPU loop (docs/performance.md). ``optimize_already_fooled`` always runs on numpy.

The authors' rule (``rule: reference``, ``attacks.reference``) has its own pair: the numpy
emulation and ``engines.reference_cpu``, compiled, the same decisions (``cpu``; ``auto`` for a
float64 set).

This module imports nothing heavy: the engines are imported when an attack runs on them.
"""

from __future__ import annotations

from ..params import ParameterError

ENGINES = ("auto", "cpu", "cuda", "numpy", "naive")

__all__ = ["ENGINES", "CUDA_VISIT_EVENTS", "cuda_available", "cuda_visit_chunk", "resolve_engine"]


# Events whose step sizes and uniforms are drawn at once for the GPU: bounds the draws' memory
# (m x d x num_candidates floats) on million-event sets.
CUDA_VISIT_EVENTS = 65536


def cuda_visit_chunk(batch_events: int) -> int:
    """Events per call of the GPU engine's ``visit``: about ``CUDA_VISIT_EVENTS``, and in batched
    mode (``batch_events`` B > 1) a whole number of batches, at least one. So every batch holds B
    events, the iteration's last one excepted, however large B is."""
    if batch_events <= 1:
        return CUDA_VISIT_EVENTS
    return batch_events * max(1, CUDA_VISIT_EVENTS // batch_events)


def resolve_engine(engine: str) -> str:
    """The engine ``engine`` names; ``auto`` is ``cpu`` (the fastest exact engine measured, GPU included).

    Raises ParameterError for an unknown name, and for ``cuda`` without a usable GPU.
    """
    if engine not in ENGINES:
        raise ParameterError(f"unknown attack engine {engine!r}; expected one of {ENGINES}")
    if engine == "auto":
        return "cpu"
    if engine == "cuda":
        if not cuda_available():
            raise ParameterError("attack engine 'cuda' needs an NVIDIA GPU that numba can use; none was found "
                                 "(use engine 'cpu' or 'auto')")
    return engine


def cuda_available() -> bool:
    """True when a CUDA GPU is usable by numba (or numba's CUDA simulator is enabled)."""
    from numba import config, cuda

    if config.ENABLE_CUDASIM:
        return True
    try:
        return bool(cuda.is_available())
    except Exception:  # a driver that cannot be loaded counts as no GPU
        return False
