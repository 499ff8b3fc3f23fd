"""The naive engine: the numpy reference with every histogram and co-moment recomputed from scratch
before each event, O(n d^2) per event as in the paper's code; a baseline for benchmarks and a
second oracle (the same decisions as the running statistics, which the tests check)."""

from __future__ import annotations

from . import numpy


def visit(state, order, sign_of, signs, bar) -> int:
    """``engines.numpy.visit`` with the statistics recomputed from scratch before every event."""
    return numpy.visit(state, order, sign_of, signs, bar, from_scratch=True)
