"""The compiled kernels' state as a few named structures.

numba (CPU) and numba-cuda (GPU) take named tuples of arrays and scalars as arguments, so the
kernels receive their state as five structures instead of two dozen positional arrays and floats:
two arguments of the same type can no longer be swapped silently, and a new statistic is one new
field, filled here and read where a kernel needs it.

- ``Bounds``: each feature's clean [lo, hi];
- ``Histograms``: the running histograms (``running_stats.RunningHistograms``): bin edges, counts,
  the clean probabilities P and the JS terms of each bin at counts c, c + 1 and c - 1, and their
  sums per feature;
- ``Comoments``: the running Pearson statistics (``running_stats.RunningPearson``): means and
  co-moments;
- ``Draws``: per visited event, its gradient signs, step sizes and random-mode uniforms;
- ``Rule``: the decision rule's scalars (cost weights, per-move limits, fallback, mode);
- ``Budgets``: the calibrated constraints' budgets and the clean correlation matrix.

The arrays are the state's own (or their device copies): kernels move them in place.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Bounds(NamedTuple):
    lo: np.ndarray  # (d,)
    hi: np.ndarray  # (d,)


class Histograms(NamedTuple):
    edges: np.ndarray  # (d, bins + 1)
    counts: np.ndarray  # (d, bins) int64
    P: np.ndarray  # (d, bins) clean probabilities
    terms: np.ndarray  # (d, bins) JS term of each bin at its count c
    terms_plus: np.ndarray  # ... at c + 1
    terms_minus: np.ndarray  # ... at c - 1
    term_sum: np.ndarray  # (d,) sum of terms over the bins


class Comoments(NamedTuple):
    mu: np.ndarray  # (d,) means
    S: np.ndarray  # (d, d) co-moments, symmetric


class Draws(NamedTuple):
    signs: np.ndarray  # (m, d) gradient signs of the visited events
    mc: np.ndarray  # (m, d) min_change per event and feature (jittered with randomize_step)
    st: np.ndarray  # (m, d) step per event and feature
    U: np.ndarray  # (m, d, N) random-mode uniforms (N = 0 in grid mode)


class Rule(NamedTuple):
    alpha: float
    beta: float
    max_jsd: float
    max_frob: float
    use_no_change: bool
    random_mode: bool


class Budgets(NamedTuple):
    jsd: np.ndarray  # (d,) JSD budget per feature
    corr: np.ndarray  # (d, d) budget of each coefficient's distance to its clean value
    C_clean: np.ndarray  # (d, d) the clean Pearson matrix


def bounds(state) -> Bounds:
    return Bounds(state.lo, state.hi)


def histograms(hist) -> Histograms:
    """The arrays of a ``RunningHistograms`` (shared, not copied)."""
    return Histograms(hist.edges, hist.counts, hist.P, hist.terms, hist.terms_plus, hist.terms_minus, hist.term_sum)


def comoments(pearson) -> Comoments:
    """The arrays of a ``RunningPearson`` (shared, not copied)."""
    return Comoments(pearson.mu, pearson.S)


def rule(params) -> Rule:
    """The decision rule of ``AttackParams`` as the kernels' scalars."""
    return Rule(float(params.alpha), float(params.beta), float(params.max_jsd_single_change),
                float(params.max_frob_single_change), bool(params.use_no_change), bool(params.random_mode))


def budgets(state) -> Budgets:
    """The calibrated budgets of an ``AttackState`` (``attacks.calibration.Budgets``)."""
    return Budgets(state.budgets.jsd, state.budgets.corr, state.C_clean)


class FeatureTerms(NamedTuple):
    """One event's terms for one feature j, what the choice of its move needs besides the shared
    state: its value, its bin, its deviation e_j = x_j - mu_j, S_jj, and the per-event sums A_j,
    B_j and E_j of ``running_stats.RunningPearson.event_terms`` (made inside the GPU kernels)."""

    x: float
    bin: int
    e: float
    Sjj: float
    A: float
    B: float
    E: float
