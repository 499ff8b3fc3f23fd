"""Compiled engine of the reference rule (``rule: reference``, engine ``cpu``; docs/method.md 8.4).

It takes the decisions of the numpy emulation (``attacks.reference.visit_event``, which replays
the authors' recorded decisions to the bit) at a fraction of its cost. The emulation recomputes a
histogram and a covariance of the chunk over all events for every visit, O(n c^2); here the
histograms' counts and the co-moments are kept running, a candidate's JSD is O(1) from per-feature
sums, and its Frobenius quantity O(c) (O(c^2 C) per visit for C candidates, as the authors' rule
defines it: candidate j of a feature is scored with every chunk feature at its own candidate j).

**Exact decisions without numpy's bits.** numpy's vectorised log2 and its BLAS covariance cannot be
reproduced bit for bit in compiled code, and a decision can hang on the last bit (a JSD at its
limit, two costs that tie, the sign of a divergence that is zero up to rounding, which decides
between NaN, never admissible, and a tiny admissible JSD). So each quantity is computed here with a
bound on its distance to numpy's value: ``JS_ERROR`` (+ ``JS_RELATIVE_ERROR``) on the divergence
(the sum under the square root), ``FN_ERROR`` relative on the Frobenius quantity (running
co-moments against numpy's from-scratch BLAS ones), each about 20 times the largest distance
measured. Candidates in the same bin share one JSD, in numpy as here, so between them the Frobenius
values decide alone. A decision is taken here only when it is the
same for every value within the bounds: each candidate surely admissible or surely not, and the
least-cost admissible candidate's cost interval below every other candidate's. Otherwise the
visit goes back to Python, for one of two things:

- ``NEED_EXACT_JSD``: a feature's histogram equals the reference up to rounding (at the start,
  until an event leaves its bin), so its divergence is noise; numpy's JSD of the chunk's current
  histograms (``reference.jsd_of_counts``, O(c bins)) is cached per feature until its counts change;
- ``NEED_FALLBACK``: anything else (a JSD or Frobenius value at its limit, a near tie): numpy
  scores the open features' contenders (``reference.candidate_jsd`` and ``candidate_frobenius``
  on those candidate indices only) and picks among them as ``reference.choose`` does; the other
  features keep their compiled choices, and the running statistics take the visit's moves.

Every iteration record counts both (``exact_jsd_calls``, ``fallback_visits``). Workers (feature
chunks) run in threads, one compiled loop each. A single worker runs on one core: spreading its
features over threads (numba's prange) needs two thread synchronisations per visit, measured
1.2 times faster on a busy 2-core machine with passive waiting, and 10 to 20 times slower with
OpenMP's default spinning; a serial loop is never the trap.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from numba import get_num_threads, njit

from ..reference import (DENOMINATOR_FLOOR, DENSITY_FLOOR, EDGE_MARGIN, VARIANCE_FLOOR, candidate_frobenius,
                         candidate_jsd, jsd_of_counts)
from . import structs

# Bounds on our values' distance to numpy's, about 20 times the largest distance measured (at n = 50,000
# after 20,000 running updates: 5.6e-17 on divergences up to 3e-4, 5.7e-10 relative on Frobenius values)
JS_ERROR = 1e-15  # absolute on the divergence, plus JS_RELATIVE_ERROR times it
JS_RELATIVE_ERROR = 1e-11
FN_ERROR = 2e-8  # relative on the Frobenius quantity
DONE, NEED_EXACT_JSD, NEED_FALLBACK = 0, 1, 2
SEGMENT = 512  # visits per compiled call between progress updates
TAYLOR_LIMIT = 1e-5  # largest eps / (s_new s) for which _frobenius_squares expands the reciprocal


class WorkerState(NamedTuple):
    """One worker's running state (arrays shared with ``reference.Worker`` where named alike)."""

    S: np.ndarray  # (n, c) the worker's columns, moved in place
    lo: np.ndarray  # (c,)
    hi: np.ndarray  # (c,)
    edges: np.ndarray  # (c, bins + 1)
    P: np.ndarray  # (c, bins) the reference densities, floored and normalised (float64 of float32)
    nw: np.ndarray  # (c,) n times the bin width
    zbase: np.ndarray  # (c,) sum of count / nw over the filled bins
    counts: np.ndarray  # (c, bins) int64
    empty: np.ndarray  # (c,) int64 empty bins
    T: np.ndarray  # (c, 3) sum over bins of the JS terms with E - 1, E, E + 1 empty bins
    exact_jsd: np.ndarray  # (c,) numpy's JSD of the current histogram
    exact_ok: np.ndarray  # (c,) bool: exact_jsd is that of the current counts
    mean: np.ndarray  # (c,)
    C: np.ndarray  # (c, c) co-moments
    cov: np.ndarray  # (c, c) ddof 1
    corr: np.ndarray  # (c, c)
    var: np.ndarray  # (c,) ddof 0
    std: np.ndarray  # (c,) sqrt(var + VARIANCE_FLOOR)
    istd: np.ndarray  # (c,) 1 / std


class Rule(NamedTuple):
    base: structs.Rule  # cost weights, limits, use_no_change, random mode: as the exact rule's kernels take them
    num_candidates: int
    min_change: float
    step: float
    randomize_step: bool
    random_step_frac: float
    js_error: float
    fn_error: float


def rule_of(p, js_error: float = JS_ERROR, fn_error: float = FN_ERROR) -> Rule:
    """The rule's scalars from AttackParams, with the error bounds the decisions allow for (larger
    ones send more visits back to numpy; the tests use that to run every path)."""
    return Rule(structs.rule(p), int(p.num_candidates or 0), float(p.min_change), float(p.step),
                bool(p.randomize_step), float(p.random_step_frac), float(js_error), float(fn_error))


# ---------------------------------------------------------------- histograms


@njit(cache=True, nogil=True)
def bin_of(x, edges, k):
    """``reference.bins_of`` for one value of feature k: the last edge <= x after clipping."""
    nb = edges.shape[1] - 1
    top = edges[k, nb] - EDGE_MARGIN
    if x < edges[k, 0]:
        x = edges[k, 0]
    if x > top:
        x = top
    b = int((x - edges[k, 0]) / (edges[k, nb] - edges[k, 0]) * nb)  # a guess, then the edges decide
    b = min(max(b, 0), nb)
    while b < nb and edges[k, b + 1] <= x:
        b += 1
    while b > 0 and edges[k, b] > x:
        b -= 1
    return min(b, nb - 1)


@njit(cache=True, nogil=True, inline="always")
def _term(Q, p, nw, Z):
    # one bin's q log2(q/m) + p log2(p/m), as reference.jsd_of_counts forms it
    q = Q / nw
    if q < DENSITY_FLOOR:
        q = DENSITY_FLOOR
    q = q / Z
    m = 0.5 * (p + q)
    if m < DENSITY_FLOOR:
        m = DENSITY_FLOOR
    return q * math.log2(q / m) + p * math.log2(p / m)


@njit(cache=True, nogil=True)
def _level_sums(st, k):
    nb = st.counts.shape[1]
    for L in range(3):
        E = st.empty[k] + L - 1
        if E < 0:
            st.T[k, L] = math.nan
            continue
        Z = st.zbase[k] + E * DENSITY_FLOOR
        total = 0.0
        for b in range(nb):
            total += _term(st.counts[k, b], st.P[k, b], st.nw[k], Z)
        st.T[k, L] = total


@njit(cache=True, nogil=True)
def _count(st):
    n, c = st.S.shape
    st.counts[:] = 0
    for i in range(n):
        for k in range(c):
            st.counts[k, bin_of(st.S[i, k], st.edges, k)] += 1
    for k in range(c):
        st.empty[k] = 0
        z = 0.0
        for b in range(st.counts.shape[1]):
            if st.counts[k, b] == 0:
                st.empty[k] += 1
            else:
                z += st.counts[k, b] / st.nw[k]
        st.zbase[k] = z
        _level_sums(st, k)
        st.exact_ok[k] = False


@njit(cache=True, nogil=True)
def _move_count(st, k, a, b):
    """An event of feature k leaves bin a for bin b (a != b)."""
    Qa, Qb = st.counts[k, a], st.counts[k, b]
    E = st.empty[k]
    E_new = E + (1 if Qa == 1 else 0) - (1 if Qb == 0 else 0)
    st.counts[k, a] = Qa - 1
    st.counts[k, b] = Qb + 1
    st.exact_ok[k] = False
    if E_new != E:
        st.empty[k] = E_new
        _level_sums(st, k)
        return
    for L in range(3):
        if E + L - 1 < 0:
            continue
        Z = st.zbase[k] + (E + L - 1) * DENSITY_FLOOR
        nw, pa, pb = st.nw[k], st.P[k, a], st.P[k, b]
        st.T[k, L] += (_term(Qa - 1, pa, nw, Z) - _term(Qa, pa, nw, Z)
                       + _term(Qb + 1, pb, nw, Z) - _term(Qb, pb, nw, Z))


# ---------------------------------------------------------------- co-moments


@njit(cache=True, nogil=True)
def _derive(st):
    n, c = st.S.shape
    for k in range(c):
        st.var[k] = st.C[k, k] / n
        st.std[k] = math.sqrt(st.var[k] + VARIANCE_FLOOR)
        st.istd[k] = 1.0 / st.std[k]
        for l in range(c):
            st.cov[k, l] = st.C[k, l] / (n - 1)
    for k in range(c):
        sk = math.sqrt(st.cov[k, k])
        for l in range(c):
            r = st.cov[k, l] / sk / math.sqrt(st.cov[l, l])
            st.corr[k, l] = min(max(r, -1.0), 1.0)


@njit(cache=True, nogil=True)
def absorb_move(st, e, old):
    """Event e's row of S went from ``old`` to its current values: update counts and co-moments."""
    n, c = st.S.shape
    new = st.S[e]
    moved = False
    for k in range(c):
        if new[k] != old[k]:
            moved = True
            a, b = bin_of(old[k], st.edges, k), bin_of(new[k], st.edges, k)
            if a != b:
                _move_count(st, k, a, b)
    if not moved:
        return
    delta = new - old
    mean_new = st.mean + delta / n
    u = old - mean_new
    w = new - mean_new
    for k in range(c):
        for l in range(c):
            st.C[k, l] += delta[k] * delta[l] / n - u[k] * u[l] + w[k] * w[l]
    st.mean[:] = mean_new
    _derive(st)


# ---------------------------------------------------------------- candidates


@njit(cache=True, nogil=True)
def _grid_moves(v, direction, lo, hi, draws, rule):
    """numpy.arange(min_change, room + step, step) * direction (reference.candidate_deltas), float64."""
    step, min_change = rule.step, rule.min_change
    if rule.randomize_step:
        low, high = 1 - rule.random_step_frac, 1 + rule.random_step_frac
        step = step * (low + (high - low) * draws[0])
        min_change = min_change * (low + (high - low) * draws[1])
    room = hi - v if direction > 0 else v - lo
    stop = room + step
    span = stop - min_change
    ratio = span / step
    if ratio == 0.0 and span != 0.0:  # numpy's underflow rule
        length = 0 if math.copysign(1.0, ratio) < 0 else 1
    else:
        length = max(int(math.ceil(ratio)), 0)
    out = np.empty(length)
    if length > 0:
        out[0] = min_change
    if length > 1:
        out[1] = min_change + step
        delta = out[1] - out[0]  # numpy's fill: start + i * (second - start)
        for i in range(2, length):
            out[i] = min_change + i * delta
    return out * direction


@njit(cache=True, nogil=True)
def _candidates(v, signs, lo, hi, draws, rule):
    """(c, C) float32 deltas padded with 0 and (c,) list lengths, as reference.candidate_deltas."""
    c = v.shape[0]
    lists = []
    for k in range(c):
        if rule.base.random_mode:
            moves = (rule.min_change + (hi[k] - v[k] - rule.min_change) * draws[k]) * signs[k]
        else:
            moves = _grid_moves(v[k], signs[k], lo[k], hi[k], draws[k], rule)
        lists.append(moves)
    first = 1 if rule.base.use_no_change else 0
    lengths = np.empty(c, dtype=np.int64)
    width = 0
    for k in range(c):
        lengths[k] = lists[k].shape[0] + first
        width = max(width, lengths[k])
    deltas = np.zeros((c, width), dtype=np.float32)
    for k in range(c):
        for j in range(lists[k].shape[0]):
            deltas[k, j + first] = lists[k][j]
    return deltas, lengths


# ---------------------------------------------------------------- one visit


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "nsz"})
def _frobenius_squares(st, k, length, dn, isn, dev_old, inv_n1, expand, beyond):
    """(length,) sums of squares of the authors' Frobenius quantity for candidates 0..length-1 of
    feature k (reference.candidate_frobenius), or +inf for a candidate whose sum surely exceeds
    ``beyond``; only bounds on them matter, so sums may be reordered and the loops run over the
    candidates, contiguous, for the vector units.

    Pruning: the terms of the other features are squares, so a partial sum over them only grows;
    once it passes ``beyond`` for every candidate from some index on (large moves of every chunk
    feature at once), those candidates are dropped from the remaining loops.

    Its correlations divide by (s_new s + eps), eps = DENOMINATOR_FLOOR; with ``expand`` (eps / (s_new s)
    <= TAYLOR_LIMIT for every pair of the visit) the reciprocal is 1/(s_new s) (1 - h + h^2),
    h = eps / (s_new s), whose relative error h^3 <= 1e-15 is far inside FN_ERROR; no division."""
    c = dn.shape[0]
    out = np.zeros(length)
    dnk, isnk = dn[k], isn[k]
    dok, isk = dev_old[k], st.istd[k]
    active = length
    for step in range(c):
        l = (k + 1 + step) % c  # feature k itself last: its terms are not only squares (the diagonal)
        cov_kl, corr_kl, is_l, do_l = st.cov[k, l], st.corr[k, l], st.istd[l], dev_old[l]
        dnl, isnl = dn[l], isn[l]
        if expand:
            for j in range(active):
                cr = cov_kl + (dnk[j] * dnl[j] - dok * do_l) * inv_n1
                ia = isnk[j] * is_l
                ha = DENOMINATOR_FLOOR * ia
                ib = isnl[j] * isk
                hb = DENOMINATOR_FLOOR * ib
                ra = cr * (ia * (1.0 - ha + ha * ha)) - corr_kl
                rb = cr * (ib * (1.0 - hb + hb * hb)) - corr_kl
                out[j] += ra * ra + rb * rb
        else:
            for j in range(active):
                cr = cov_kl + (dnk[j] * dnl[j] - dok * do_l) * inv_n1
                ra = cr / (1.0 / (isnk[j] * is_l) + DENOMINATOR_FLOOR) - corr_kl
                rb = cr / (1.0 / (isnl[j] * isk) + DENOMINATOR_FLOOR) - corr_kl
                out[j] += ra * ra + rb * rb
        if l != k:
            while active > 0 and out[active - 1] > beyond:
                active -= 1
    for j in range(active):  # the diagonal element is in both sums once too often
        cr = st.cov[k, k] + (dnk[j] * dnk[j] - dok * dok) * inv_n1
        ra = cr / (1.0 / (isnk[j] * isk) + DENOMINATOR_FLOOR) - st.corr[k, k]
        out[j] -= ra * ra
    out[active:] = math.inf
    return out


@njit(cache=True, nogil=True)
def _new_columns(st, k, e, newv, dn, isn):
    """Feature k's candidate values' deviations and reciprocal standard deviations, as the authors
    update them; returns the largest reciprocal."""
    n = st.S.shape[0]
    x, mu = st.S[e, k], st.mean[k]
    dev2 = (x - mu) ** 2
    largest = 0.0
    inv_n, inv_n1 = 1.0 / n, 1.0 / (n - 1)  # approximate values: a product's extra rounding is harmless
    for j in range(newv.shape[1]):
        nv = newv[k, j]
        mean_new = mu + (nv - x) * inv_n
        dn[k, j] = nv - mean_new
        var_new = st.var[k] + ((nv - mean_new) ** 2 - dev2) * inv_n1
        isn[k, j] = 1.0 / math.sqrt(var_new + VARIANCE_FLOOR)
        largest = max(largest, isn[k, j])
    return largest


@njit(cache=True, nogil=True)
def _choose(st, k, e, newv, lengths, dn, isn, dev_old, rule, expand, contend):
    """(status, chosen index) of feature k: DONE with the numpy emulation's choice, or what is needed;
    with NEED_FALLBACK, ``contend`` marks the candidates that may be numpy's choice (all others are
    surely inadmissible or surely costlier than one surely admissible)."""
    n = st.S.shape[0]
    inv_n1 = 1.0 / (n - 1)
    a = bin_of(st.S[e, k], st.edges, k)
    E, Qa, nw, pa = st.empty[k], st.counts[k, a], st.nw[k], st.P[k, a]
    same = 0.5 * st.T[k, 1]  # the divergence while the event stays in its bin
    same_exact = abs(same) <= rule.js_error + JS_RELATIVE_ERROR * abs(same)
    if same_exact and not st.exact_ok[k]:
        return NEED_EXACT_JSD, 0
    leave = np.empty(3)  # the event's bin losing it, at each level of empty bins
    for L in range(3):
        if E + L - 1 >= 0:
            Z = st.zbase[k] + (E + L - 1) * DENSITY_FLOOR
            leave[L] = _term(Qa - 1, pa, nw, Z) - _term(Qa, pa, nw, Z)
    first = 1 if rule.base.use_no_change else 0
    # a sum of squares above this is surely inadmissible (1e-9: the pruned partial sums' rounding)
    beyond = (rule.base.max_frob / (1.0 - rule.fn_error)) ** 2 * (1.0 + 1e-9)
    squares_of = _frobenius_squares(st, k, lengths[k], dn, isn, dev_old, inv_n1, expand, beyond)
    length = lengths[k]
    # the candidates that may be admissible: bin, Frobenius and cost intervals
    cand_bin = np.full(length, -1, np.int64)
    fn_lows, fn_highs, cost_lows = np.empty(length), np.empty(length), np.empty(length)
    winner, winner_high = -1, math.inf  # least cost surely admissible (upper end of its interval)
    last_b, js = -1, 0.0
    for j in range(first, lengths[k]):
        squares = squares_of[j]
        if squares > beyond:
            continue
        b = bin_of(newv[k, j], st.edges, k)
        exact = b == a and same_exact
        if exact:
            jsd = st.exact_jsd[k]
            if math.isnan(jsd):
                continue
            jsd_low = jsd_high = jsd
            unsure = False
        else:
            if b == a:
                js = same
            elif b != last_b:
                Qb = st.counts[k, b]
                E_new = E + (1 if Qa == 1 else 0) - (1 if Qb == 0 else 0)
                L = E_new - E + 1
                Z = st.zbase[k] + E_new * DENSITY_FLOOR
                pb = st.P[k, b]
                js = 0.5 * (st.T[k, L] + leave[L] - _term(Qb, pb, nw, Z) + _term(Qb + 1, pb, nw, Z))
            last_b = b if b != a else -1
            error = rule.js_error + JS_RELATIVE_ERROR * abs(js)
            if js + error < 0.0:
                continue  # NaN in numpy: never admissible
            unsure = js - error <= 0.0  # NaN or a tiny JSD: only numpy knows
            jsd_low = math.sqrt(max(js - error, 0.0))
            jsd_high = math.sqrt(js + error)
        if jsd_low > rule.base.max_jsd:
            continue
        unsure = unsure or jsd_high > rule.base.max_jsd
        if squares <= 0.0:
            fn_low, fn_high, unsure = 0.0, math.sqrt(abs(squares)) + 1e-300, True
        else:
            fn = math.sqrt(squares)
            fn_low, fn_high = fn * (1.0 - rule.fn_error), fn * (1.0 + rule.fn_error)
        if fn_low > rule.base.max_frob:
            continue
        unsure = unsure or fn_high > rule.base.max_frob
        cost_low = rule.base.alpha * jsd_low + rule.base.beta * fn_low
        cost_high = rule.base.alpha * jsd_high + rule.base.beta * fn_high
        if not unsure and cost_high < winner_high:
            winner, winner_high = j, cost_high
        cand_bin[j], fn_lows[j], fn_highs[j], cost_lows[j] = b, fn_low, fn_high, cost_low
    for j in range(length):
        contend[j] = cand_bin[j] >= 0 and (winner < 0 or cost_lows[j] <= winner_high)
    if winner < 0:
        for j in range(length):
            if contend[j]:
                return NEED_FALLBACK, 0
        return DONE, 0  # nothing can be admissible: the fallback, index 0
    # the winner must cost surely less than every other candidate that may be admissible; in its
    # own bin the JSD is the same number (numpy's too), so there the Frobenius values decide alone
    for j in range(length):
        if j == winner or cand_bin[j] < 0:
            continue
        if cand_bin[j] == cand_bin[winner]:
            if not fn_lows[j] > fn_highs[winner] * (1.0 + 1e-12):
                return NEED_FALLBACK, 0
        elif not cost_lows[j] > winner_high:
            return NEED_FALLBACK, 0
    return DONE, winner


@njit(cache=True, nogil=True)
def _prepare(st, e, signs, draws, rule):
    n, c = st.S.shape
    v = st.S[e].copy()
    deltas, lengths = _candidates(v, signs, st.lo, st.hi, draws, rule)
    width = deltas.shape[1]
    newv = np.empty((c, width))
    for k in range(c):
        for j in range(width):
            newv[k, j] = min(max(v[k] + np.float64(deltas[k, j]), st.lo[k]), st.hi[k])
    return v, deltas, lengths, newv


@njit(cache=True, nogil=True)
def _apply(st, e, v, deltas, status, chosen, best_row, change_row):
    c = v.shape[0]
    for k in range(c):
        if status[k] != DONE:
            return status[k]
    for k in range(c):
        best_row[k] = chosen[k]
        change_row[k] = deltas[k, chosen[k]] if deltas.shape[1] else np.float32(0.0)
        st.S[e, k] = min(max(v[k] + np.float64(change_row[k]), st.lo[k]), st.hi[k])
    absorb_move(st, e, v)
    return DONE


@njit(cache=True, nogil=True)
def _decide(st, e, signs, draws, rule):
    """A visit's compiled choices as far as they go, nothing applied: the event's values, the
    candidate deltas, and per chunk feature its status, chosen index and contenders (``_choose``)."""
    n, c = st.S.shape
    v, deltas, lengths, newv = _prepare(st, e, signs, draws, rule)
    dn, isn = np.empty((c, deltas.shape[1])), np.empty((c, deltas.shape[1]))
    dev_old = v - st.mean
    status, chosen, largest = np.zeros(c, np.int64), np.zeros(c, np.int64), np.zeros(c)
    for k in range(c):
        largest[k] = _new_columns(st, k, e, newv, dn, isn)
    expand = DENOMINATOR_FLOOR * largest.max() * st.istd.max() <= TAYLOR_LIMIT
    contend = np.zeros((c, deltas.shape[1]), np.bool_)
    for k in range(c):
        status[k], chosen[k] = _choose(st, k, e, newv, lengths, dn, isn, dev_old, rule, expand, contend[k])
    return v, deltas, status, chosen, contend


@njit(cache=True, nogil=True)
def fallback_plan(st, e, signs, draws, rule):
    """(status, chosen, contenders, deltas) of a visit, for the driver to settle the NEED_FALLBACK
    features with numpy."""
    v, deltas, status, chosen, contend = _decide(st, e, signs, draws, rule)
    return status, chosen, contend, deltas


@njit(cache=True, nogil=True)
def visit_range(st, visits, signs, draws, rule, best, change, start, stop):
    """Visit ``visits[start:stop]`` in order; (status, position) of the first visit that needs
    Python (nothing of it applied), or (DONE, stop)."""
    for pos in range(start, stop):
        e = visits[pos]
        v, deltas, decided, chosen, _ = _decide(st, e, signs[pos], draws[pos], rule)
        status = _apply(st, e, v, deltas, decided, chosen, best[pos], change[pos])
        if status != DONE:
            return status, pos
    return DONE, stop


# ---------------------------------------------------------------- driver


def worker_state(w) -> WorkerState:
    """The running state of a ``reference.Worker`` (its columns shared, not copied)."""
    n, c = w.S.shape
    nb = w.edges.shape[1] - 1
    S = w.S
    mean = S.mean(axis=0)
    D = S - mean
    st = WorkerState(S=S, lo=np.ascontiguousarray(w.lo, np.float64), hi=np.ascontiguousarray(w.hi, np.float64),
                     edges=np.ascontiguousarray(w.edges, np.float64),
                     P=np.ascontiguousarray(w.reference_p, np.float64),
                     nw=n * (w.edges[:, 1] - w.edges[:, 0]), zbase=np.zeros(c), counts=np.zeros((c, nb), np.int64),
                     empty=np.zeros(c, np.int64), T=np.zeros((c, 3)), exact_jsd=np.zeros(c),
                     exact_ok=np.zeros(c, np.bool_), mean=mean, C=D.T @ D, cov=np.zeros((c, c)),
                     corr=np.zeros((c, c)), var=np.zeros(c), std=np.zeros(c), istd=np.zeros(c))
    assert S.flags.c_contiguous and st.C.flags.c_contiguous
    _count(st)
    _derive(st)
    return st


def _exact_current_jsd(w, st):
    """numpy's JSD of the current histograms, for every chunk feature, into the cache."""
    counts = st.counts.astype(np.int32)[:, None, :]
    st.exact_jsd[:] = jsd_of_counts(w.reference_p, counts, st.S.shape[0], w.edges)[:, 0]
    st.exact_ok[:] = True


def _settle_with_numpy(w, st, e, pos, signs, p, rule):
    """A visit whose choice for some features the bounds leave open: numpy scores those features'
    contenders (the candidates of those indices, every chunk feature at its own; a candidate's
    values do not depend on which others are scored), picks as ``reference.choose`` does among
    them, the other features keep their compiled choices; the moves are applied and absorbed."""
    status, chosen, contend, deltas = fallback_plan(st, e, signs, w.draws[pos], rule)
    if (status == NEED_EXACT_JSD).any():
        _exact_current_jsd(w, st)
        status, chosen, contend, deltas = fallback_plan(st, e, signs, w.draws[pos], rule)
    v = w.S[e].copy()
    open_ = np.flatnonzero(status == NEED_FALLBACK)
    columns = np.flatnonzero(contend[open_].any(axis=0))
    new_values = np.clip(v[:, None] + deltas[:, columns], w.lo[:, None], w.hi[:, None])
    jsd = candidate_jsd(w.reference_p, w.S, w.edges, new_values, np.broadcast_to(v[:, None], new_values.shape))
    fn = candidate_frobenius(w.S, e, new_values)
    admissible = (jsd <= p.max_jsd_single_change) & (fn <= p.max_frob_single_change)
    cost = p.alpha * jsd + p.beta * fn
    for k in open_:
        options = np.flatnonzero(admissible[k] & contend[k, columns])  # in index order
        chosen[k] = columns[options[np.argmin(cost[k, options])]] if options.size else 0
    change = deltas[np.arange(len(v)), chosen] if deltas.shape[1] else np.zeros(len(v), np.float32)
    w.best[pos], w.change[pos] = chosen, change
    w.S[e] = np.clip(w.S[e] + change, w.lo, w.hi)
    absorb_move(st, e, v)


def _run_worker(w, st, visit, p, rule, progress, counters, lock):
    m = visit.size
    visits = visit.astype(np.int64)
    signs = np.ascontiguousarray(w.signs, np.int64) if m else np.zeros((0, w.S.shape[1]), np.int64)
    exact_calls = fallbacks = 0
    pos = 0
    while pos < m:
        stop = min(pos + SEGMENT, m)
        status, at = visit_range(st, visits, signs, w.draws, rule, w.best, w.change, pos, stop)
        progress(at - pos)
        pos = at
        if status == NEED_EXACT_JSD:
            _exact_current_jsd(w, st)
            exact_calls += 1
        elif status == NEED_FALLBACK:
            _settle_with_numpy(w, st, int(visits[pos]), pos, signs[pos], p, rule)
            fallbacks += 1
            progress(1)
            pos += 1
    with lock:
        counters["exact_jsd_calls"] += exact_calls
        counters["fallback_visits"] += fallbacks


def run_workers(workers, visit, p, progress) -> dict:
    """Run an iteration's workers (``reference.Worker``) on the visits ``visit``, in threads (as many
    as numba's), one compiled loop each. Returns the counts of exact-JSD calls and numpy fallbacks."""
    rule = rule_of(p)
    counters = {"exact_jsd_calls": 0, "fallback_visits": 0}
    lock = threading.Lock()
    states = [worker_state(w) for w in workers]
    threads = min(len(workers), get_num_threads())
    if threads <= 1:
        for w, st in zip(workers, states):
            _run_worker(w, st, visit, p, rule, progress, counters, lock)
        return counters
    with ThreadPoolExecutor(max_workers=threads) as pool:
        jobs = [pool.submit(_run_worker, w, st, visit, p, rule, progress, counters, lock)
                for w, st in zip(workers, states)]
        for job in jobs:
            job.result()
    return counters
