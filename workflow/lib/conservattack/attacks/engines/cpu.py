"""Compiled (numba) visiting loop of the CPU engine.

It makes exactly the decisions of the numpy reference (``state.AttackState.choose`` and
``apply`` with ``running_stats.RunningHistograms`` / ``RunningPearson``): every quantity is formed with the
same floating-point operations in the same order (sums left to right, see
``running_stats.sequential_row_sums``), so the two engines agree to the bit. The tests check that.
The kernels take the attack's state as the named structures of ``engines.structs`` (bounds,
histograms, co-moments, per-event draws, the rule's scalars).

Speed comes from exact shortcuts, none of which changes a decision:
- a candidate whose target bin already breaks the JSD limit is not evaluated further
  (with ``use_no_change``; otherwise the least-cost fallback needs every cost);
- grid candidates are taken in blocks, and a block is skipped when a rigorous lower bound of the
  Frobenius norm over the whole block exceeds the limit: with v_k = u_k S_jk and w_k = u_k e_k,
  ||dr v + D r' w|| >= |D| r' ||w|| - |dr| ||v||, bounded over the block's range of moves;
- branch and bound: once an admissible candidate is found, a block whose cost lower bound
  (alpha * least JSD over the block's bins + beta * the Frobenius bound) exceeds the best cost
  is skipped; candidates come in order of |move| and ties go to the smaller move;
- a candidate's JSD depends only on the bin it lands in, and grid candidates move monotonically
  through the bins: once one lands in a bin that breaks the JSD limit, the rest of that bin is
  jumped over (``past_rest_of_bin``), with the same caveat as the first point;
- a second, unpruned pass runs only when the fallback (no ``use_no_change``) is needed.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..running_stats import compiled_bin_of as _bin_of
from . import structs

LN2 = math.log(2.0)
BLOCK = 8  # grid candidates per pruning block (doubling after each skipped block)
MAX_BLOCK = 4096
SAFETY = 1.0 + 1e-6  # prune only when the bound clears the limit by far more than rounding


@njit(cache=True, inline="always")
def _rel_entr(x, y):
    # scipy.special.rel_entr, same branches
    if x > 0.0 and y > 0.0:
        return x * math.log(x / y)
    if x == 0.0 and y >= 0.0:
        return 0.0
    return math.inf


@njit(cache=True, inline="always")
def _js_term(p, q):
    m = (p + q) / 2.0
    return _rel_entr(p, m) + _rel_entr(q, m)


@njit(cache=True, inline="always")
def _frob(D, e_j, Sjj, A_j, B_j, E_j, n):
    # running_stats.RunningPearson.candidate_frobenius, same operation order
    dS = D * (2.0 * e_j + D * (1.0 - 1.0 / n))
    if Sjj + dS <= 0.0:  # the move would leave the feature constant: never admissible
        return math.inf
    sq_old = math.sqrt(Sjj)
    sq_new = math.sqrt(Sjj + dS)
    r_new = 1.0 / sq_new
    dr = -dS / (sq_old * sq_new * (sq_old + sq_new))
    rD = r_new * D
    q = dr * dr * A_j + 2.0 * dr * r_new * D * B_j + rD * rD * E_j
    return math.sqrt(2.0 * max(q, 0.0))


def frob_lower_bound_impl(s, a1, a2, e_j, Sjj, A_j, E_j, n):
    """Lower bound of the Frobenius norm for every move D = s*a, a in [a1, a2] (a1 >= 0).

    It only decides which candidates are skipped (with a margin far above rounding), never a value.
    Plain Python without builtin min/max (numba-cuda cannot compile those), compiled for the CPU
    here and for the GPU in ``engines.cuda``.
    """
    c = 1.0 - 1.0 / n
    # dS(a) = 2 e_j s a + c a^2 over [a1, a2]: extremes at the ends or at the vertex
    lo_dS = math.inf
    hi_dS = -math.inf
    for r in range(3):
        a = a1 if r == 0 else (a2 if r == 1 else -e_j * s / c)
        if a1 <= a <= a2:
            v = 2.0 * e_j * s * a + c * a * a
            lo_dS = v if v < lo_dS else lo_dS
            hi_dS = v if v > hi_dS else hi_dS
    if Sjj + lo_dS <= 0.0:
        return 0.0
    sq_old = math.sqrt(Sjj)
    sq_new_min = math.sqrt(Sjj + lo_dS)
    sq_new_max = math.sqrt(Sjj + hi_dS)
    r_min = 1.0 / sq_new_max
    dr_max = (abs(lo_dS) if abs(lo_dS) > abs(hi_dS) else abs(hi_dS)) / (sq_old * sq_new_min * (sq_old + sq_new_min))
    lb = a1 * r_min * math.sqrt(E_j if E_j > 0.0 else 0.0) - dr_max * math.sqrt(A_j if A_j > 0.0 else 0.0)
    return math.sqrt(2.0) * lb if lb > 0.0 else 0.0


_frob_lower_bound = njit(cache=True, inline="always")(frob_lower_bound_impl)


@njit(cache=True, inline="always")
def past_rest_of_bin(k, b, xj, s, mcj, stj, lo_j, hi_j, edges, j, nb):
    """The next grid index to scan after candidate ``k`` (``xj + s * (mcj + k * stj)``) landed in
    bin ``b``, which breaks the JSD limit: past every following candidate known to land in bin
    ``b`` too, at most up to the first one that does not. The candidates only move away from
    ``xj`` as k grows, so their bins are monotonic: the index is guessed from the edge that bin
    ``b`` shares with the next bin in the move's direction, and moved back until the candidate
    before it lies in bin ``b`` by ``_bin_of`` itself, so rounding can never skip a candidate of
    another bin. A guess that falls short only costs the scan another jump; with bins narrower
    than the step the guess is k + 1, the plain next candidate, at the cost of one division."""
    edge = edges[j, b + 1] - xj if s > 0 else xj - edges[j, b]
    guess = math.ceil((edge - mcj) / stj) if stj > 0.0 else k + 1
    if guess <= k + 1:
        return k + 1
    nxt = int(guess)
    while nxt > k + 1:
        xp = xj + s * (mcj + (nxt - 1) * stj)
        if lo_j <= xp <= hi_j and _bin_of(xp, edges, j, nb) == b:
            break
        nxt -= 1
    return nxt


@njit(cache=True, inline="always")
def random_candidates(s, mcj, room, U, t, j, Dr, order):
    """Random mode: the moves of feature j of visited event t into ``Dr`` and their order by |move|
    (ties in draw order) into ``order``; returns how many there are, 0 when the room in the move's
    direction is below min_change (state.AttackState.candidates)."""
    if room < mcj:
        return 0
    N = U.shape[2]
    for m in range(N):
        Dr[m] = s * (mcj + U[t, j, m] * (room - mcj))
    order[:] = np.argsort(np.abs(Dr), kind="mergesort")
    return N


@njit(cache=True, inline="always")
def grid_block(k, blk, xj, s, mcj, stj, lo_j, hi_j):
    """The pruning block of grid candidates from index k: its size (``blk``, halved down to BLOCK
    while its last candidate lies outside [lo_j, hi_j]), its range of |move| a1..a2 and the value
    of its last candidate (a block wholly inside the bounds may be skipped; otherwise the grid
    ends inside it)."""
    size = blk
    while size > BLOCK and not (lo_j <= xj + s * (mcj + (k + size - 1) * stj) <= hi_j):
        size //= 2
    a1 = mcj + k * stj
    a2 = mcj + (k + size - 1) * stj
    return size, a1, a2, xj + s * a2


@njit(cache=True, inline="always")
def least_jsd_over_bins(b1, b2, a_bin, j, term_sum, base, terms_plus, terms, two_ln2):
    """The least JS distance of feature j over the target bins b1..b2 (either order) of a move from
    bin ``a_bin`` (``base``: the term sum with one count out of ``a_bin``)."""
    least = math.inf
    for bb in range(min(b1, b2), max(b1, b2) + 1):
        sb = term_sum[j] if bb == a_bin else base + terms_plus[j, bb] - terms[j, bb]
        least = min(least, math.sqrt(max(sb / two_ln2, 0.0)))
    return least


@njit(cache=True)
def _workspace(d):
    """Per-event scratch arrays of the visiting loops: u2, e, A, B, E, w, x_new; old and new bins."""
    return np.empty((7, d)), np.empty((2, d), np.int64)


@njit(cache=True, inline="always")
def _event_sums(x, cm, edges, u2, e, w, A, B, E, old_bins):
    """Per-event sums of running_stats.RunningPearson.event_terms (``cm``: ``structs.Comoments``) and
    the event's bins (same operation order)."""
    mu, S = cm.mu, cm.S
    d = x.shape[0]
    nb = edges.shape[1] - 1
    for k in range(d):
        u2[k] = 1.0 / S[k, k]
    for k in range(d):
        e[k] = x[k] - mu[k]
    for k in range(d):
        ue = u2[k] * e[k]
        w[k] = ue * e[k]
    wsum = w[0]
    for k in range(1, d):
        wsum += w[k]
    # A_j and B_j are d sums over k, each in k order with the k = j term a zero, as in the reference.
    # With k outermost the d sums are independent (no chain of dependent additions) and read S by
    # rows (S is symmetric: running_stats.comoment_matrix makes it so and every move writes both halves).
    for j in range(d):
        sjk = S[0, j] if j != 0 else 0.0
        A[j] = sjk * sjk * u2[0]
        B[j] = sjk * (u2[0] * e[0])
        E[j] = wsum - w[j]
    for k in range(1, d):
        uk = u2[k]
        uek = uk * e[k]
        Sk = S[k]
        for j in range(d):
            sjk = Sk[j] if k != j else 0.0
            A[j] += sjk * sjk * uk
            B[j] += sjk * uek
    for j in range(d):
        old_bins[j] = _bin_of(x[j], edges, j, nb)


@njit(cache=True, inline="always")
def apply_move(X, i, x, x_new, old_bins, new_bins, e, hist, cm, resum):
    """Move event i (current values ``x``, bins ``old_bins``) to ``x_new`` and update the statistics
    (``hist``: ``structs.Histograms``, ``cm``: ``structs.Comoments``) exactly
    (state.AttackState.apply); returns whether anything moved. ``resum``: a touched
    feature's JS term sum is re-added over all bins, as the reference engine does; otherwise it is
    corrected by the two changed terms (O(1) instead of O(bins), rounding differs by ulps)."""
    edges, counts, P, terms, terms_plus, terms_minus, term_sum = hist
    mu, S = cm
    n, d = X.shape
    nb = counts.shape[1]
    inv_n = 1.0 / n
    any_change = False
    for j in range(d):
        if x_new[j] != x[j]:
            any_change = True
    if not any_change:
        return False
    for j in range(d):  # histogram counts first, then the terms of the touched bins
        if x_new[j] != x[j]:
            ob = old_bins[j]
            nbin = _bin_of(x_new[j], edges, j, nb)
            new_bins[j] = nbin
            if ob != nbin:
                counts[j, ob] -= 1
                counts[j, nbin] += 1
    for j in range(d):
        if x_new[j] != x[j]:
            ob = old_bins[j]
            nbin = new_bins[j]
            if ob != nbin:
                # A bin's three terms are those of counts c - 1, c, c + 1: after the source bin lost
                # one event its new "plus" term is its old term and its new term its old "minus" one,
                # and the other way round for the target bin (the same values bit for bit), so
                # only one term per bin needs a new logarithm.
                change = terms_minus[j, ob] - terms[j, ob] + terms_plus[j, nbin] - terms[j, nbin]
                terms_plus[j, ob] = terms[j, ob]
                terms[j, ob] = terms_minus[j, ob]
                terms_minus[j, ob] = _js_term(P[j, ob], max(counts[j, ob] - 1, 0) * inv_n)
                terms_minus[j, nbin] = terms[j, nbin]
                terms[j, nbin] = terms_plus[j, nbin]
                terms_plus[j, nbin] = _js_term(P[j, nbin], (counts[j, nbin] + 1) * inv_n)
                if resum:
                    acc = terms[j, 0]
                    for bb in range(1, nb):
                        acc += terms[j, bb]
                    term_sum[j] = acc
                else:
                    term_sum[j] += change
    for j in range(d):  # co-moments, one feature at a time (running_stats.RunningPearson.move)
        if x_new[j] != x[j]:
            x_old = x[j]
            xv = x_new[j]
            delta = xv - x_old
            mu_old = mu[j]
            mu_new = mu_old + delta / n
            Sjj_new = S[j, j] + delta * (xv - mu_new + x_old - mu_old)
            for k in range(d):
                if k != j:
                    v = S[j, k] + delta * e[k]
                    S[j, k] = v
                    S[k, j] = v
            S[j, j] = Sjj_new
            mu[j] = mu_new
            x[j] = xv
            e[j] = xv - mu_new  # the one deviation this move changed, as x - mu would recompute it
    for j in range(d):
        X[i, j] = x[j]
    return True


@njit(cache=True)
def visit_events(X, events, draws, bounds, hist, cm, rule, prune):
    """Visit ``events`` in order (docs/method.md section 2.3), moving X and the running statistics
    ``hist`` and ``cm`` in place (``structs``). Row t of each of ``draws``' arrays belongs to
    ``events[t]``. ``prune``: take the exact shortcuts of the module docstring (off only in tests).
    Returns the number of events that moved.
    """
    signs, mc, st, U = draws
    lo, hi = bounds
    edges, counts, P, terms, terms_plus, terms_minus, term_sum = hist
    mu, S = cm
    alpha, beta, max_jsd, max_frob, use_no_change, random_mode = rule
    n, d = X.shape
    nb = counts.shape[1]
    two_ln2 = 2.0 * LN2
    moved = 0
    vec, bins = _workspace(d)
    u2, e, A, B, E, w, x_new = vec[0], vec[1], vec[2], vec[3], vec[4], vec[5], vec[6]
    old_bins, new_bins = bins[0], bins[1]
    N = U.shape[2]
    Dr = np.empty(N)
    order = np.empty(N, np.int64)
    for t in range(events.shape[0]):
        i = events[t]
        x = X[i].copy()
        s_ev = signs[t]
        # ---- per-event sums (running_stats.RunningPearson.event_terms)
        _event_sums(x, cm, edges, u2, e, w, A, B, E, old_bins)
        # ---- choose per feature (state.AttackState.choose)
        for j in range(d):
            s = s_ev[j]
            xj = x[j]
            a_bin = old_bins[j]
            base = term_sum[j] - terms[j, a_bin] + terms_minus[j, a_bin]
            room = hi[j] - xj if s > 0 else xj - lo[j]
            mcj = mc[t, j]
            stj = st[t, j]
            best_cost = math.inf
            best_val = xj
            found = False
            n_valid = random_candidates(s, mcj, room, U, t, j, Dr, order) if random_mode else 0
            # bins that hold several grid candidates can be jumped over (else the jump only costs)
            several_per_bin = not random_mode and stj < edges[j, 1] - edges[j, 0]
            # Pass 0 looks for the best admissible candidate and may skip work; the least-cost
            # fallback (no use_no_change) needs every cost, in the same pass when not pruning or
            # in a second, full pass when pass 0 found nothing admissible.
            need_fallback = not use_no_change
            single_pass = need_fallback and not prune
            fb_cost = math.inf
            fb_val = xj
            for passno in range(2):
                if passno == 1 and (found or not need_fallback or single_pass):
                    break
                full = single_pass or passno == 1
                k = 0
                blk = BLOCK
                next_check = 0
                while True:
                    if random_mode:
                        if k >= n_valid:
                            break
                        D = Dr[order[k]]
                        xn = min(max(xj + D, lo[j]), hi[j])
                    else:
                        if prune and not full and k >= next_check:
                            # a block wholly inside the bounds may be skipped (otherwise the grid
                            # ends inside it); after a skip the next block is twice as long
                            size, a1, a2, xe = grid_block(k, blk, xj, s, mcj, stj, lo[j], hi[j])
                            skip = False
                            if xe >= lo[j] and xe <= hi[j]:
                                fn_lb = _frob_lower_bound(s, a1, a2, e[j], S[j, j], A[j], E[j], n)
                                if fn_lb > max_frob * SAFETY:
                                    skip = True  # every move of the block breaks the FN limit
                                elif found:
                                    # no candidate of the block can beat the best so far (ties
                                    # go to the earlier, smaller move)
                                    b1 = _bin_of(xj + s * a1, edges, j, nb)
                                    b2 = _bin_of(xe, edges, j, nb)
                                    jsd_lb = least_jsd_over_bins(b1, b2, a_bin, j, term_sum, base, terms_plus, terms,
                                                                 two_ln2)
                                    skip = alpha * jsd_lb + beta * fn_lb / SAFETY > best_cost * SAFETY
                            if skip:
                                k += size
                                next_check = k
                                blk = min(2 * blk, MAX_BLOCK)
                                continue
                            blk = BLOCK
                            next_check = k + BLOCK
                        D = s * (mcj + k * stj)
                        xn = xj + D
                        if not (xn >= lo[j] and xn <= hi[j]):
                            break
                    b = _bin_of(xn, edges, j, nb)
                    if b == a_bin:
                        sj = term_sum[j]
                    else:
                        sj = base + terms_plus[j, b] - terms[j, b]
                    jsd = math.sqrt(max(sj / two_ln2, 0.0))
                    if jsd <= max_jsd or full:
                        fn = _frob(xn - xj, e[j], S[j, j], A[j], B[j], E[j], n)
                        cost = alpha * jsd + beta * fn
                        if passno == 0 and jsd <= max_jsd and fn <= max_frob and cost < best_cost:
                            best_cost = cost
                            best_val = xn
                            found = True
                        if full and cost < fb_cost:
                            fb_cost = cost
                            fb_val = xn
                    elif several_per_bin:
                        # every grid candidate in bin b breaks the JSD limit too: go to the next bin
                        k = past_rest_of_bin(k, b, xj, s, mcj, stj, lo[j], hi[j], edges, j, nb)
                        continue
                    k += 1
            if not found and need_fallback and fb_cost < math.inf:
                best_val = fb_val
                found = True
            x_new[j] = best_val if found else xj
        # ---- apply (state.AttackState.apply)
        if apply_move(X, i, x, x_new, old_bins, new_bins, e, hist, cm, True):
            moved += 1
    return moved


@njit(cache=True)
def apply_chosen(X, events, X_new, hist, cm, rule):
    """Apply moves chosen elsewhere (the batched GPU mode): event ``events[t]`` to ``X_new[t]``, in
    order, with the exact running updates of ``hist`` and ``cm``. With ``use_no_change`` a feature's move that is not
    admissible against the statistics as they are now is dropped. Returns the events that moved.
    The JS term sums are corrected in O(1) per move rather than re-added (the mode is approximate
    anyway, and the attack re-synchronises every statistic once per iteration)."""
    edges, terms, terms_plus, terms_minus, term_sum = hist.edges, hist.terms, hist.terms_plus, hist.terms_minus, \
        hist.term_sum
    S = cm.S
    max_jsd, max_frob, use_no_change = rule.max_jsd, rule.max_frob, rule.use_no_change
    n, d = X.shape
    nb = hist.counts.shape[1]
    two_ln2 = 2.0 * LN2
    vec, bins = _workspace(d)
    u2, e, A, B, E, w, x_new = vec[0], vec[1], vec[2], vec[3], vec[4], vec[5], vec[6]
    old_bins, new_bins = bins[0], bins[1]
    moved = 0
    for t in range(events.shape[0]):
        i = events[t]
        x = X[i].copy()
        _event_sums(x, cm, edges, u2, e, w, A, B, E, old_bins)
        for j in range(d):
            xv = X_new[t, j]
            keep = True
            if use_no_change and xv != x[j]:
                a_bin = old_bins[j]
                b = _bin_of(xv, edges, j, nb)
                ts = term_sum[j]
                sj = ts if b == a_bin else ts - terms[j, a_bin] + terms_minus[j, a_bin] + terms_plus[j, b] - terms[j, b]
                jsd = math.sqrt(max(sj / two_ln2, 0.0))
                fn = _frob(xv - x[j], e[j], S[j, j], A[j], B[j], E[j], n)
                keep = jsd <= max_jsd and fn <= max_frob
            x_new[j] = xv if keep else x[j]
        if apply_move(X, i, x, x_new, old_bins, new_bins, e, hist, cm, False):
            moved += 1
    return moved


def visit(state, order, signs, bar, chunk: int = 4096) -> int:
    """Visit the events ``order`` (increasing) with their gradient ``signs``, ``chunk`` at a
    time (the draws of a chunk are made on the host, in the numpy engine's order)."""
    bounds, hist = structs.bounds(state), structs.histograms(state.hist)
    cm, rule = structs.comoments(state.pearson), structs.rule(state.p)
    moved = 0
    for start in range(0, order.size, chunk):
        events = order[start : start + chunk]
        draws = structs.Draws(np.ascontiguousarray(signs[start : start + chunk]), *state.draws(events.size))
        moved += visit_events(state.X, events.astype(np.int64), draws, bounds, hist, cm, rule, True)
        bar.update(events.size)
    return int(moved)
