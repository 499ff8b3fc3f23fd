"""Compiled (numba) visiting loop of the calibrated constraints (``constraints: calibrated``).

The same decisions as the numpy reference ``state.AttackState.move_calibrated``, to the bit: an
event's features are taken in order, each one's candidates are scored against the statistics as
the event's earlier moves left them, and the chosen move is applied at once (``cpu.apply_move``,
the exact running updates). A candidate is admissible when its feature's JSD to the clean
histogram is within the feature's budget and every coefficient of the moved row of the correlation
matrix stays within its budget of the clean value; its cost is alpha times the first ratio plus
beta times the largest of the second ones.

Exact shortcuts, none of which changes a decision (they skip candidates that cannot win):
- a candidate whose bin breaks the JSD budget, or whose JSD term alone (alpha times the ratio)
  already reaches the best cost, is not scored; on a grid the rest of its bin is jumped over;
- grid candidates are taken in blocks (doubling after each skipped block, as in ``engines.cpu``),
  and a block is skipped when a rigorous lower bound of its largest row ratio (interval arithmetic
  on C'_jk(D) over the block's range of moves, for every k) exceeds 1, or when that bound and the
  least JSD ratio over the block's bins give a cost above the best one found;
- a row is scanned with early exit at the first coefficient over its budget (the coefficient that
  failed last is tried first: the same one tends to fail for the next, larger move) or as soon as
  the cost of the coefficients seen so far reaches the best cost.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..running_stats import compiled_bin_of as _bin_of
from .cpu import (BLOCK, LN2, MAX_BLOCK, SAFETY, apply_move, grid_block, least_jsd_over_bins, past_rest_of_bin,
                  random_candidates)
from . import structs

# Absolute slack of the row bound: far above the rounding of coefficients of order 1, so a floored
# (1e-12) budget is never pruned on rounding alone.
ROW_SLACK = 1e-13


@njit(cache=True, inline="always")
def _row_ratio_lower_bound(S, e, u, C0, b_corr, j, s, a1, a2, n):
    """Lower bound of max_k |C'_jk(D) - C0_jk| / b_jk over the moves D = s*a, a in [a1, a2]
    (a1 >= 0): C'_jk = (S_jk + D e_k) u_k r'(D), the numerator an interval from its two ends,
    r' = (S_jj + dS)^-1/2 from the range of dS(a) = 2 e_j s a + (1 - 1/n) a^2 (ends and vertex).
    It only decides which candidates are skipped (with margins), never a value."""
    c = 1.0 - 1.0 / n
    lo_dS = math.inf
    hi_dS = -math.inf
    for r in range(3):
        a = a1 if r == 0 else (a2 if r == 1 else -e[j] * s / c)
        if a1 <= a <= a2:
            v = 2.0 * e[j] * s * a + c * a * a
            lo_dS = min(lo_dS, v)
            hi_dS = max(hi_dS, v)
    Sjj = S[j, j]
    if Sjj + lo_dS <= 0.0:
        return 0.0
    r_lo = 1.0 / math.sqrt(Sjj + hi_dS)
    r_hi = 1.0 / math.sqrt(Sjj + lo_dS)
    bound = 0.0
    for k in range(S.shape[0]):
        if k == j:
            continue
        n1 = S[j, k] + s * a1 * e[k]
        n2 = S[j, k] + s * a2 * e[k]
        nlo = min(n1, n2)
        nhi = max(n1, n2)
        plo = (nlo * r_lo if nlo >= 0.0 else nlo * r_hi) * u[k] - C0[j, k]
        phi = (nhi * r_hi if nhi >= 0.0 else nhi * r_lo) * u[k] - C0[j, k]
        gap = plo if plo > 0.0 else (-phi if phi < 0.0 else 0.0)
        ratio = max(gap - ROW_SLACK, 0.0) / b_corr[j, k]
        bound = max(bound, ratio)
    return bound


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
            n_valid = random_candidates(s, mcj, room, U, t, j, Dr, order) if random_mode else 0
            several_per_bin = not random_mode and stj < edges[j, 1] - edges[j, 0]
            best_cost = math.inf
            best_val = xj
            found = False
            first_k = 0 if j != 0 else 1  # the coefficient tried first (the last one over its budget)
            k_idx = 0
            blk = BLOCK
            next_check = 0
            while True:
                if random_mode:
                    if k_idx >= n_valid:
                        break
                    xn = min(max(xj + Dr[order[k_idx]], lo[j]), hi[j])
                else:
                    if prune and k_idx >= next_check:
                        # a block wholly inside the bounds may be skipped (otherwise the grid ends in it)
                        size, a1, a2, xe = grid_block(k_idx, blk, xj, s, mcj, stj, lo[j], hi[j])
                        skip = False
                        if xe >= lo[j] and xe <= hi[j]:
                            row_lb = _row_ratio_lower_bound(S, e, u, C0, b_corr, j, s, a1, a2, n)
                            if row_lb > SAFETY:
                                skip = True  # every move of the block breaks a coefficient's budget
                            elif found:
                                b1 = _bin_of(xj + s * a1, edges, j, nb)
                                b2 = _bin_of(xe, edges, j, nb)
                                jr_lb = least_jsd_over_bins(b1, b2, a_bin, j, term_sum, base, terms_plus, terms,
                                                            two_ln2) / b_jsd[j]
                                skip = alpha * jr_lb + beta * row_lb / SAFETY > best_cost * SAFETY
                        if skip:
                            k_idx += size
                            next_check = k_idx
                            blk = min(2 * blk, MAX_BLOCK)
                            continue
                        blk = BLOCK
                        next_check = k_idx + BLOCK
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
                        k_idx = past_rest_of_bin(k_idx, b, xj, s, mcj, stj, lo[j], hi[j], edges, j, nb)
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
                if apply_move(X, i, x, x_new, old_bins, new_bins, e, hist, cm, True):
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
