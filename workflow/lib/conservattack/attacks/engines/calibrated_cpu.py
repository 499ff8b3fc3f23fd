"""Compiled (numba) visiting loop of the calibrated constraints (``constraints: calibrated``).

The same decisions as the numpy reference ``state.AttackState.move_calibrated``, to the bit: an
event's features are taken in order, each one's candidates are scored against the statistics as
the event's earlier moves left them, and the chosen move is applied at once (``cpu._apply_move``,
the exact running updates). A candidate is admissible when its feature's JSD to the clean
histogram is within the feature's budget and every coefficient of the moved row of the correlation
matrix stays within its budget of the clean value; its cost is alpha times the first ratio plus
beta times the largest of the second ones.

Exact shortcuts, none of which changes a decision (they skip candidates that cannot win):
- a candidate whose bin breaks the JSD budget, or whose JSD term alone (alpha times the ratio)
  already reaches the best cost, is not scored; on a grid the rest of its bin is jumped over;
- a row is scanned with early exit at the first coefficient over its budget (the coefficient that
  failed last is tried first: the same one tends to fail for the next, larger move) or as soon as
  the cost of the coefficients seen so far reaches the best cost.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..running_stats import compiled_bin_of as _bin_of
from .cpu import LN2, _apply_move, _past_rest_of_bin
from . import structs


@njit(cache=True)
def visit_events(X, events, draws, bounds, hist, cm, rule, budgets, prune):
    """Visit ``events`` in order under the calibrated budgets (``structs.Budgets``), moving X and the
    running statistics in place; ``prune``: take the module's shortcuts (off only in tests).
    Returns the number of events that moved."""
    signs, mc, st, U = draws
    lo, hi = bounds
    edges, counts, P, terms, terms_plus, terms_minus, term_sum = hist
    mu, S = cm
    alpha, beta = rule.alpha, rule.beta
    random_mode = rule.random_mode
    b_jsd, b_corr, C0 = budgets
    n, d = X.shape
    nb = counts.shape[1]
    two_ln2 = 2.0 * LN2
    moved = 0
    e = np.empty(d)
    u = np.empty(d)
    x_new = np.empty(d)
    old_bins = np.empty(d, np.int64)
    new_bins = np.empty(d, np.int64)
    N = U.shape[2]
    Dr = np.empty(N)
    order = np.empty(N, np.int64)
    for t in range(events.shape[0]):
        i = events[t]
        x = X[i].copy()
        for k in range(d):
            e[k] = x[k] - mu[k]
            old_bins[k] = _bin_of(x[k], edges, k, nb)
        any_move = False
        for j in range(d):
            s = signs[t, j]
            xj = x[j]
            a_bin = old_bins[j]
            base = term_sum[j] - terms[j, a_bin] + terms_minus[j, a_bin]
            room = hi[j] - xj if s > 0 else xj - lo[j]
            mcj = mc[t, j]
            stj = st[t, j]
            for k in range(d):
                u[k] = 1.0 / math.sqrt(S[k, k])
            Sjj = S[j, j]
            ej = e[j]
            n_valid = 0
            if random_mode:
                if room >= mcj:
                    for m in range(N):
                        Dr[m] = s * (mcj + U[t, j, m] * (room - mcj))
                    order[:] = np.argsort(np.abs(Dr), kind="mergesort")
                    n_valid = N
            several_per_bin = not random_mode and stj < edges[j, 1] - edges[j, 0]
            best_cost = math.inf
            best_val = xj
            found = False
            first_k = 0 if j != 0 else 1  # the coefficient tried first (the last one over its budget)
            k_idx = 0
            while True:
                if random_mode:
                    if k_idx >= n_valid:
                        break
                    xn = min(max(xj + Dr[order[k_idx]], lo[j]), hi[j])
                else:
                    xn = xj + s * (mcj + k_idx * stj)
                    if not (xn >= lo[j] and xn <= hi[j]):
                        break
                b = _bin_of(xn, edges, j, nb)
                sj = term_sum[j] if b == a_bin else base + terms_plus[j, b] - terms[j, b]
                jr = math.sqrt(max(sj / two_ln2, 0.0)) / b_jsd[j]
                jsd_cost = alpha * jr
                if prune and (jr > 1.0 or (found and jsd_cost >= best_cost)):
                    # so does every grid candidate left in bin b: go to the next bin
                    if several_per_bin:
                        k_idx = _past_rest_of_bin(k_idx, b, xj, s, mcj, stj, lo[j], hi[j], edges, j, nb)
                    else:
                        k_idx += 1
                    continue
                k_idx += 1
                if jr > 1.0:
                    continue
                D = xn - xj
                Sjj_new = Sjj + D * (2.0 * ej + D * (1.0 - 1.0 / n))
                if not Sjj_new > 0.0:
                    continue
                r_new = 1.0 / math.sqrt(Sjj_new)
                worst = 0.0
                ok = True
                for kk in range(d):
                    k = first_k + kk
                    if k >= d:
                        k -= d
                    if k == j:
                        continue
                    c = ((S[j, k] + D * e[k]) * u[k]) * r_new
                    ratio = abs(c - C0[j, k]) / b_corr[j, k]
                    if ratio > 1.0:
                        ok = False
                        first_k = k
                        break
                    if ratio > worst:
                        worst = ratio
                        if prune and found and jsd_cost + beta * worst >= best_cost:
                            ok = False  # the cost of the full row is at least this
                            break
                if ok:
                    cost = jsd_cost + beta * worst
                    if cost < best_cost:
                        best_cost = cost
                        best_val = xn
                        found = True
            if found:
                for k in range(d):
                    x_new[k] = x[k]
                x_new[j] = best_val
                # x, e and X[i] follow the move; only feature j's own bin is read from old_bins again
                if _apply_move(X, i, x, x_new, old_bins, new_bins, e, hist, cm, True):
                    any_move = True
        if any_move:
            moved += 1
    return moved


def visit(state, order, signs, bar, chunk: int = 4096) -> int:
    """Visit the events ``order`` (increasing) with their gradient ``signs`` under the state's
    calibrated budgets, ``chunk`` at a time (draws made on the host in the numpy engine's order)."""
    bounds, hist = structs.bounds(state), structs.histograms(state.hist)
    cm, rule = structs.comoments(state.pearson), structs.rule(state.p)
    budgets = structs.budgets(state)
    moved = 0
    for start in range(0, order.size, chunk):
        events = order[start : start + chunk]
        draws = structs.Draws(np.ascontiguousarray(signs[start : start + chunk]), *state.draws(events.size))
        moved += visit_events(state.X, events.astype(np.int64), draws, bounds, hist, cm, rule, budgets, True)
        bar.update(events.size)
    return int(moved)
