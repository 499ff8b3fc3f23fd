"""GPU (CUDA) engine of the attack: numba.cuda kernels on float64 device arrays.

Two modes, chosen by ``batch_events`` in ``attacks.api.attack``:

- exact (``batch_events`` 0 or 1, the default): one persistent thread block visits the events one
  after another, exactly as the CPU engine does (``cpu.visit_events``). Within an event the
  block works in parallel: one warp per feature scans that feature's candidates 32 at a time with
  the CPU engine's exact pruning (a Frobenius lower bound per block of candidates, and branch and
  bound against the best cost so far), and the joint move updates the statistics with one thread
  per feature (histograms) and one per feature pair (co-moments), in the CPU engine's order of
  floating-point operations. Every product is rounded on its own (``dmul_rn``): the GPU would
  otherwise fuse multiply-adds and round differently from the CPU. Only ``log`` may differ by an
  ulp (CUDA's libdevice vs the C library), in the JS terms of the bins an event moves between; a
  decision could change only at an exact tie or a limit met to the last bit.
- batched (``batch_events`` = B > 1): B events choose their moves at once on the GPU against the
  same statistics, one warp per (event, feature) running the exact mode's per-feature code, all
  B x d warps independent of one another (the event-independent sums once per batch,
  ``coupling_kernel``). The host then applies the moves one event after another, in event
  order, with the CPU engine's exact running updates (``cpu.apply_chosen``), which also
  resolves conflicts deterministically: with ``use_no_change``, a feature's move that is no
  longer admissible against the statistics as they now are (earlier events of the batch having
  moved into the same bins or shifted the same correlations) is dropped, so every applied move
  respects the per-move limits. The result is no
  longer the sequential one: ``python -m conservattack.bench --batch B`` prints its deviation in
  fooling ratio, JSD and FN. Within a batch the choice goes in slices on one stream, so the host
  applies one slice (O(d^2) per event) while the GPU chooses the next (O(d K) per event).

Under the calibrated constraints (``constraints: calibrated``) the exact mode runs
``visit_calibrated_kernel`` instead: one warp, the events and each event's features in order,
every candidate of a feature scored by the warp (no pruning) and the winner applied with the exact
mode's update, the decisions of ``calibrated_cpu.visit_events``. The batched mode does not take them.

The random draws (step jitter, random-mode candidates) stay on the host generator, in the order of
the CPU engine, so both engines see the same candidates.

With ``NUMBA_ENABLE_CUDASIM=1`` the same kernels run in numba's CUDA simulator on the CPU (one warp
per block, a shared-memory stand-in for warp shuffles); the tests use it to check the GPU code's
decisions without a GPU.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
from numba import config as numba_config
from numba import cuda

from ..running_stats import bin_of_impl
from . import cpu, cuda_visit_chunk, structs
from .structs import FeatureTerms
from . import cuda_available as available  # noqa: F401 - this engine's public check

SIMULATOR = bool(numba_config.ENABLE_CUDASIM)
WARP = 32
MAX_FEATURES = 256  # shared per-event arrays are sized at compile time
BLOCK = 32  # candidates per pruning block: one per lane (doubling after each skipped block)
MAX_BLOCK = 4096
SAFETY = 1.0 + 1e-6  # as cpu.SAFETY: prune only when the bound clears the limit by far more than rounding
LN2 = math.log(2.0)
FULL_MASK = 0xFFFFFFFF
# Threads per block, and the register cap per thread that lets that many launch (65536 per block).
# The simulator runs one OS thread per GPU thread: one warp. CONSERVATTACK_CUDA_THREADS tunes it.
THREADS = WARP if SIMULATOR else int(os.environ.get("CONSERVATTACK_CUDA_THREADS", "256"))
MAX_REGISTERS = min(255, 65536 // THREADS)
N_WARPS = THREADS // WARP
# The batched mode's choice kernel: one warp per (event, feature), BATCH_WARPS warps per block, at
# most BATCH_REGISTERS registers per thread (0: no cap). For sm_90, ptxas gives it 130 registers
# uncapped (12 resident warps per multiprocessor, of 64), 127 without spills under the cap of 128
# (16 warps), 64 with 700 bytes of spill stores (32 warps). The block-per-event kernel it replaced
# had 148 registers at 256 threads: 8 warps. A latency-bound scan gains from resident warps;
# spills cost local-memory traffic. Figures: resources/benchmarks/kernel_resources.py;
# CONSERVATTACK_CUDA_BATCH_REGISTERS tunes the cap.
BATCH_WARPS = 1 if SIMULATOR else 4
BATCH_REGISTERS = int(os.environ.get("CONSERVATTACK_CUDA_BATCH_REGISTERS", "128"))
_BATCH_OPTIONS = {} if SIMULATOR or BATCH_REGISTERS <= 0 else {"max_registers": BATCH_REGISTERS}
PIPELINE_EVENTS = 4096  # events per launch of the batched choice (GpuIteration._visit_batch)
# rows of the exact mode's per-event shared buffer: the event, its deviations, 1/S_kk, the sums A,
# B, E, the chosen values, and the apply step's new means and deviations before and after the
# move; MISC holds the "something moved" flag (1)
XS, EV, U2, SA, SB, SE, XNEW, MU_NEW, E_OLD, E_CUR, MISC = range(11)
N_BUFFERS = 11
SCRATCH4_WARPS = N_WARPS if SIMULATOR else 1  # shuffle stand-in memory: the simulator only


# ---------------------------------------------------------------------------------------------
# Arithmetic shared by both modes. Products are rounded separately (no fused multiply-add).
# ---------------------------------------------------------------------------------------------
if SIMULATOR:

    @cuda.jit(device=True)
    def _mul(a, b):
        return a * b

    @cuda.jit(device=True)
    def _xor_shuffle(v, m, scratch):
        # Stand-in for shfl_xor_sync: the simulator runs one warp per block, so a block barrier is
        # a warp barrier; the first barrier keeps the previous exchange's reads before this write.
        tid = cuda.threadIdx.x
        cuda.syncthreads()
        scratch[tid] = v
        cuda.syncthreads()
        return scratch[tid ^ m]

    @cuda.jit(device=True)
    def _xor_shuffle4(c, a, i, v, m, scratch):
        # four values through one pair of barriers (the simulator's barriers are what costs)
        tid = cuda.threadIdx.x
        cuda.syncthreads()
        scratch[tid, 0] = c
        scratch[tid, 1] = a
        scratch[tid, 2] = i
        scratch[tid, 3] = v
        cuda.syncthreads()
        o = tid ^ m
        return scratch[o, 0], scratch[o, 1], scratch[o, 2], scratch[o, 3]

else:  # pragma: no cover - needs a GPU
    from numba.cuda import libdevice

    @cuda.jit(device=True)
    def _mul(a, b):
        return libdevice.dmul_rn(a, b)

    @cuda.jit(device=True)
    def _xor_shuffle(v, m, scratch):
        return cuda.shfl_xor_sync(FULL_MASK, v, m)

    @cuda.jit(device=True)
    def _xor_shuffle4(c, a, i, v, m, scratch):
        return (cuda.shfl_xor_sync(FULL_MASK, c, m), cuda.shfl_xor_sync(FULL_MASK, a, m),
                cuda.shfl_xor_sync(FULL_MASK, i, m), cuda.shfl_xor_sync(FULL_MASK, v, m))


@cuda.jit(device=True)
def _max(a, b):
    # numba-cuda cannot compile the builtin max/min of two scalars as device code
    return a if a >= b else b


@cuda.jit(device=True)
def _min(a, b):
    return a if a <= b else b


@cuda.jit(device=True)
def _rel_entr(x, y):
    if x > 0.0 and y > 0.0:
        return _mul(x, math.log(x / y))
    if x == 0.0 and y >= 0.0:
        return 0.0
    return math.inf


@cuda.jit(device=True)
def _js_term(p, q):
    m = (p + q) / 2.0
    return _rel_entr(p, m) + _rel_entr(q, m)


_bin_of = cuda.jit(device=True)(bin_of_impl)


@cuda.jit(device=True)
def _frob(D, e_j, Sjj, A_j, B_j, E_j, n):
    dS = _mul(D, _mul(2.0, e_j) + _mul(D, 1.0 - 1.0 / n))
    if Sjj + dS <= 0.0:
        return math.inf
    sq_old = math.sqrt(Sjj)
    sq_new = math.sqrt(Sjj + dS)
    r_new = 1.0 / sq_new
    dr = -dS / _mul(_mul(sq_old, sq_new), sq_old + sq_new)
    rD = _mul(r_new, D)
    q = _mul(_mul(dr, dr), A_j) + _mul(_mul(_mul(_mul(2.0, dr), r_new), D), B_j) + _mul(_mul(rD, rD), E_j)
    return math.sqrt(_mul(2.0, _max(q, 0.0)))


_frob_lower_bound = cuda.jit(device=True)(cpu.frob_lower_bound_impl)


@cuda.jit(device=True)
def _better(c1, a1, i1, c2, a2, i2):
    """(c2, a2, i2) < (c1, a1, i1) lexicographically: lower cost, then smaller move, then index."""
    return c2 < c1 or (c2 == c1 and (a2 < a1 or (a2 == a1 and i2 < i1)))


@cuda.jit(device=True)
def _warp_min(v, scratch):
    m = 16
    while m >= 1:
        v = _min(v, _xor_shuffle(v, m, scratch))
        m //= 2
    return v


@cuda.jit(device=True)
def _warp_best(c, a, i, v, scratch4):
    """Lexicographic minimum of (cost, |move|, index) over the warp, with its value; every lane
    gets the same answer (butterfly over a total order)."""
    m = 16
    while m >= 1:
        c2, a2, i2, v2 = _xor_shuffle4(c, a, i, v, m, scratch4)
        if _better(c, a, i, c2, a2, i2):
            c = c2
            a = a2
            i = i2
            v = v2
        m //= 2
    return c, v


# ---------------------------------------------------------------------------------------------
# One feature of one event, chosen by one warp (state.AttackState.choose for column j)
# ---------------------------------------------------------------------------------------------
@cuda.jit(device=True)
def _choose_feature(j, t, lane, ft, draws, bounds, hist, rule, n, scratch, scratch4):
    """The new value of feature j of visited event t (``ft``: its ``structs.FeatureTerms``; ``draws``
    row t), chosen by the warp of ``lane`` against the statistics ``hist`` (``structs``)."""
    xj, a_bin, e_j, Sjj, A_j, B_j, E_j = ft
    s = draws.signs[t, j]
    mcj = draws.mc[t, j]
    stj = draws.st[t, j]
    U = draws.U
    lo, hi = bounds
    edges, terms, terms_plus, terms_minus, term_sum = hist.edges, hist.terms, hist.terms_plus, hist.terms_minus, \
        hist.term_sum
    nb = terms.shape[1]
    alpha, beta, max_jsd, max_frob, use_no_change, random_mode = rule
    inf = math.inf
    two_ln2 = 2.0 * LN2
    lo_j = lo[j]
    hi_j = hi[j]
    ts = term_sum[j]
    base = ts - terms[j, a_bin] + terms_minus[j, a_bin]
    room = hi_j - xj if s > 0 else xj - lo_j
    need_fallback = not use_no_change
    best_c = inf
    best_a = inf
    best_i = inf
    best_v = xj
    fb_c = inf
    fb_a = inf
    fb_i = inf
    fb_v = xj
    if random_mode:
        N = U.shape[2]
        if room >= mcj:
            for m0 in range(0, N, WARP):
                m = m0 + lane
                if m < N:
                    D = _mul(s, mcj + _mul(U[t, j, m], room - mcj))
                    xn = _min(_max(xj + D, lo_j), hi_j)
                    b = _bin_of(xn, edges, j, nb)
                    sj = ts if b == a_bin else base + terms_plus[j, b] - terms[j, b]
                    jsd = math.sqrt(_max(sj / two_ln2, 0.0))
                    if jsd <= max_jsd or need_fallback:
                        fn = _frob(xn - xj, e_j, Sjj, A_j, B_j, E_j, n)
                        cost = _mul(alpha, jsd) + _mul(beta, fn)
                        ad = abs(D)
                        fm = float(m)
                        if jsd <= max_jsd and fn <= max_frob and _better(best_c, best_a, best_i, cost, ad, fm):
                            best_c = cost
                            best_a = ad
                            best_i = fm
                            best_v = xn
                        if need_fallback and _better(fb_c, fb_a, fb_i, cost, ad, fm):
                            fb_c = cost
                            fb_a = ad
                            fb_i = fm
                            fb_v = xn
    else:
        # pass 0: the best admissible candidate, with pruning; pass 1 (only when nothing is
        # admissible and use_no_change is off): every candidate's cost for the fallback
        for passno in range(2):
            if passno == 1:
                found = _warp_min(best_c, scratch) < inf
                if found or not need_fallback:
                    break
            k0 = 0
            blk = BLOCK
            next_check = 0
            found = False
            wbest = inf
            while True:
                if passno == 0 and k0 == next_check:
                    # the block [k0, k0 + size) is judged on bounds every lane computes alike
                    size = blk
                    while size > BLOCK and not (lo_j <= xj + _mul(s, mcj + _mul(float(k0 + size - 1), stj)) <= hi_j):
                        size //= 2
                    a1 = mcj + _mul(float(k0), stj)
                    a2 = mcj + _mul(float(k0 + size - 1), stj)
                    xe = xj + _mul(s, a2)
                    skip = False
                    if lo_j <= xe <= hi_j:
                        fn_lb = _frob_lower_bound(s, a1, a2, e_j, Sjj, A_j, E_j, n)
                        if fn_lb > max_frob * SAFETY:
                            skip = True
                        elif found:
                            b1 = _bin_of(xj + _mul(s, a1), edges, j, nb)
                            b2 = _bin_of(xe, edges, j, nb)
                            jsd_lb = inf
                            for bb in range(_min(b1, b2) + lane, _max(b1, b2) + 1, WARP):
                                sb = ts if bb == a_bin else base + terms_plus[j, bb] - terms[j, bb]
                                jsd_lb = _min(jsd_lb, math.sqrt(_max(sb / two_ln2, 0.0)))
                            jsd_lb = _warp_min(jsd_lb, scratch)
                            skip = alpha * jsd_lb + beta * fn_lb / SAFETY > wbest * SAFETY
                    if skip:
                        k0 += size
                        next_check = k0
                        blk = _min(2 * blk, MAX_BLOCK)
                        continue
                    blk = BLOCK
                    next_check = k0 + BLOCK
                # the monotone grid ends in the first block whose last move leaves the bounds
                x_last = xj + _mul(s, mcj + _mul(float(k0 + WARP - 1), stj))
                last_block = not (x_last >= lo_j and x_last <= hi_j)
                k = k0 + lane
                D = _mul(s, mcj + _mul(float(k), stj))
                xn = xj + D
                if xn >= lo_j and xn <= hi_j:
                    b = _bin_of(xn, edges, j, nb)
                    sj = ts if b == a_bin else base + terms_plus[j, b] - terms[j, b]
                    jsd = math.sqrt(_max(sj / two_ln2, 0.0))
                    if jsd <= max_jsd or passno == 1:
                        fn = _frob(xn - xj, e_j, Sjj, A_j, B_j, E_j, n)
                        cost = _mul(alpha, jsd) + _mul(beta, fn)
                        ad = abs(D)
                        fk = float(k)
                        if passno == 0:
                            if jsd <= max_jsd and fn <= max_frob and _better(best_c, best_a, best_i, cost, ad, fk):
                                best_c = cost
                                best_a = ad
                                best_i = fk
                                best_v = xn
                        elif _better(fb_c, fb_a, fb_i, cost, ad, fk):
                            fb_c = cost
                            fb_a = ad
                            fb_i = fk
                            fb_v = xn
                if passno == 0:
                    wbest = _warp_min(best_c, scratch)
                    found = wbest < inf
                if last_block:
                    break
                k0 += WARP
    c, v = _warp_best(best_c, best_a, best_i, best_v, scratch4)
    if c < inf:
        return v
    if need_fallback:
        c, v = _warp_best(fb_c, fb_a, fb_i, fb_v, scratch4)
        if c < inf:
            return v
    return xj


# ---------------------------------------------------------------------------------------------
# One event: per-event sums, the d choices, and (exact mode) the joint move
# ---------------------------------------------------------------------------------------------
# The sums of running_stats.RunningPearson.event_terms, with the same operations in the same order, split
# by what they depend on: A_j on the statistics alone (once per batch in batched mode), e_j, B_j
# and E_j on the event too. u2[k] = 1 / S_kk.
@cuda.jit(device=True)
def _coupling_term(j, d, S, u2):
    """A_j = sum over k != j of S_jk^2 / S_kk."""
    a_acc = 0.0
    for k in range(d):
        sjk = S[j, k] if k != j else 0.0
        ta = _mul(_mul(sjk, sjk), u2[k])
        if k == 0:  # the sums start at their first term, as the CPU's do (no 0.0 + first term)
            a_acc = ta
        else:
            a_acc += ta
    return a_acc


@cuda.jit(device=True)
def _deviation_terms(X, i, j, d, mu, S, u2):
    """e_j, B_j = sum over k != j of S_jk e_k / S_kk, and E_j = sum over k != j of e_k^2 / S_kk
    (formed as the full sum less e_j^2 / S_jj) for event i, one thread, from global memory."""
    wsum = 0.0
    b_acc = 0.0
    w_j = 0.0
    e_j = 0.0
    for k in range(d):
        e = X[i, k] - mu[k]
        ue = _mul(u2[k], e)
        w = _mul(ue, e)
        sjk = S[j, k] if k != j else 0.0
        tb = _mul(sjk, ue)
        if k == 0:
            wsum = w
            b_acc = tb
        else:
            wsum += w
            b_acc += tb
        if k == j:
            w_j = w
            e_j = e
    return e_j, b_acc, wsum - w_j


@cuda.jit(device=True)
def _event_terms(X, i, d, cm, edges, nb, buf, old_bins):
    """Load event i and its per-feature sums into ``buf``, a thread per feature."""
    mu, S = cm
    xs, e, u2, A, B, E = buf[XS], buf[EV], buf[U2], buf[SA], buf[SB], buf[SE]
    for k in range(cuda.threadIdx.x, d, cuda.blockDim.x):
        u2[k] = 1.0 / S[k, k]
    cuda.syncthreads()
    for j in range(cuda.threadIdx.x, d, cuda.blockDim.x):
        xs[j] = X[i, j]
        A[j] = _coupling_term(j, d, S, u2)
        e[j], B[j], E[j] = _deviation_terms(X, i, j, d, mu, S, u2)
        old_bins[j] = _bin_of(xs[j], edges, j, nb)
    cuda.syncthreads()


@cuda.jit(device=True)
def _choose_event(t, d, buf, cm, old_bins, draws, bounds, hist, rule, n, scratch, scratch4):
    S = cm.S
    xs, e, A, B, E, x_new = buf[XS], buf[EV], buf[SA], buf[SB], buf[SE], buf[XNEW]
    tid = cuda.threadIdx.x
    lane = tid % WARP
    warp = tid // WARP
    n_warps = cuda.blockDim.x // WARP
    for j in range(warp, d, n_warps):
        ft = FeatureTerms(xs[j], old_bins[j], e[j], S[j, j], A[j], B[j], E[j])
        v = _choose_feature(j, t, lane, ft, draws, bounds, hist, rule, n, scratch[warp],
                            scratch4[warp % SCRATCH4_WARPS])
        if lane == 0:
            x_new[j] = v
    cuda.syncthreads()


@cuda.jit(device=True)
def _apply_event(X, i, d, n, buf, old_bins, hist, cm):
    """state.AttackState.apply: histograms one thread per feature, co-moments one thread per
    feature pair, each entry updated in the order the sequential per-feature updates would."""
    edges, counts, P, terms, terms_plus, terms_minus, term_sum = hist
    nb = counts.shape[1]
    mu, S = cm
    xs, x_new, mu_new, e_old, e_cur, flag = buf[XS], buf[XNEW], buf[MU_NEW], buf[E_OLD], buf[E_CUR], buf[MISC]
    tid = cuda.threadIdx.x
    T = cuda.blockDim.x
    inv_n = 1.0 / n
    if tid == 0:
        flag[1] = 0.0
    cuda.syncthreads()
    for j in range(tid, d, T):
        x_old = xs[j]
        xv = x_new[j]
        mu_old = mu[j]
        e_old[j] = x_old - mu_old
        if xv != x_old:
            flag[1] = 1.0
            ob = old_bins[j]
            nbin = _bin_of(xv, edges, j, nb)
            if ob != nbin:
                counts[j, ob] -= 1
                counts[j, nbin] += 1
                # terms of counts c - 1, c, c + 1 shift by one (cpu.apply_move)
                terms_plus[j, ob] = terms[j, ob]
                terms[j, ob] = terms_minus[j, ob]
                terms_minus[j, ob] = _js_term(P[j, ob], _mul(float(_max(counts[j, ob] - 1, 0)), inv_n))
                terms_minus[j, nbin] = terms[j, nbin]
                terms[j, nbin] = terms_plus[j, nbin]
                terms_plus[j, nbin] = _js_term(P[j, nbin], _mul(float(counts[j, nbin] + 1), inv_n))
                acc = terms[j, 0]
                for bb in range(1, nb):
                    acc += terms[j, bb]
                term_sum[j] = acc
            delta = xv - x_old
            m_new = mu_old + delta / n
            mu_new[j] = m_new
            e_cur[j] = xv - m_new
            S[j, j] = S[j, j] + _mul(delta, xv - m_new + x_old - mu_old)
        else:
            mu_new[j] = mu_old
            e_cur[j] = x_old - mu_old
    cuda.syncthreads()
    if flag[1] == 0.0:
        return False
    for q in range(tid, d * d, T):
        a = q // d
        b = q - a * d
        if a < b:
            da = x_new[a] - xs[a]
            db = x_new[b] - xs[b]
            if da != 0.0 or db != 0.0:
                v = S[a, b]
                if da != 0.0:  # a moves first: b still has its old value and mean
                    v = v + _mul(da, e_old[b])
                if db != 0.0:  # then b, seeing a's new value and mean
                    v = v + _mul(db, e_cur[a])
                S[a, b] = v
                S[b, a] = v
    for j in range(tid, d, T):
        mu[j] = mu_new[j]
        X[i, j] = x_new[j]
    cuda.syncthreads()
    return True


@cuda.jit(**({} if SIMULATOR else {"max_registers": MAX_REGISTERS}))
def visit_exact_kernel(X, events, draws, bounds, hist, cm, rule, moved):
    """One block visits ``events`` in order (docs/method.md section 2.3), moving X and the statistics
    ``hist`` and ``cm`` (``structs``) in place; row t of ``draws`` belongs to ``events[t]``."""
    n = X.shape[0]
    d = X.shape[1]
    nb = hist.counts.shape[1]
    buf = cuda.shared.array((N_BUFFERS, MAX_FEATURES), np.float64)
    old_bins = cuda.shared.array(MAX_FEATURES, np.int64)
    scratch = cuda.shared.array((N_WARPS, WARP), np.float64)
    scratch4 = cuda.shared.array((SCRATCH4_WARPS, WARP, 4), np.float64)
    count = 0
    for t in range(events.shape[0]):
        i = events[t]
        _event_terms(X, i, d, cm, hist.edges, nb, buf, old_bins)
        _choose_event(t, d, buf, cm, old_bins, draws, bounds, hist, rule, n, scratch, scratch4)
        if _apply_event(X, i, d, n, buf, old_bins, hist, cm):
            count += 1
    if cuda.threadIdx.x == 0:
        moved[0] += count


# ---------------------------------------------------------------------------------------------
# The calibrated constraints (calibrated_cpu.visit_events), exact mode
# ---------------------------------------------------------------------------------------------
@cuda.jit(device=True)
def _calibrated_candidate(xn, xj, j, a_bin, base, ts, e, u, S, C0, b_jsd, b_corr, hist, rule, n, d, nb):
    """Cost of moving feature j of the event from xj to xn under the calibrated budgets, or inf
    when it breaks one (``calibrated_cpu.visit_events`` with every shortcut off, the same
    operations in the same order)."""
    b = _bin_of(xn, hist.edges, j, nb)
    sj = ts if b == a_bin else base + hist.terms_plus[j, b] - hist.terms[j, b]
    jr = math.sqrt(_max(sj / (2.0 * LN2), 0.0)) / b_jsd[j]
    if jr > 1.0:
        return math.inf
    D = xn - xj
    Sjj_new = S[j, j] + _mul(D, 2.0 * e[j] + _mul(D, 1.0 - 1.0 / n))
    if not Sjj_new > 0.0:
        return math.inf
    r_new = 1.0 / math.sqrt(Sjj_new)
    worst = 0.0
    for k in range(d):
        if k != j:
            c = _mul(_mul(S[j, k] + _mul(D, e[k]), u[k]), r_new)
            ratio = abs(c - C0[j, k]) / b_corr[j, k]
            if ratio > 1.0:
                return math.inf
            worst = _max(worst, ratio)
    return _mul(rule.alpha, jr) + _mul(rule.beta, worst)


@cuda.jit(device=True)
def _calibrated_feature(j, t, lane, xs, old_bins, e, u, draws, bounds, hist, cm, budgets, rule, n, d, scratch4):
    """The new value of feature j of visited event t under the calibrated budgets (xj when no
    candidate is admissible), chosen by one warp: lane l scores candidates l, l + 32, ...; the
    least (cost, |move|, index) wins, as the CPU's ordered scan with ties to the smaller move."""
    lo, hi = bounds
    S = cm.S
    b_jsd, b_corr, C0 = budgets
    nb = hist.terms.shape[1]
    xj = xs[j]
    a_bin = old_bins[j]
    ts = hist.term_sum[j]
    base = ts - hist.terms[j, a_bin] + hist.terms_minus[j, a_bin]
    s = draws.signs[t, j]
    mcj = draws.mc[t, j]
    stj = draws.st[t, j]
    lo_j = lo[j]
    hi_j = hi[j]
    best_c = math.inf
    best_a = math.inf
    best_i = math.inf
    best_v = xj
    if rule.random_mode:
        room = hi_j - xj if s > 0 else xj - lo_j
        N = draws.U.shape[2]
        if room >= mcj:
            for m0 in range(0, N, WARP):
                m = m0 + lane
                if m < N:
                    D = _mul(s, mcj + _mul(draws.U[t, j, m], room - mcj))
                    xn = _min(_max(xj + D, lo_j), hi_j)
                    cost = _calibrated_candidate(xn, xj, j, a_bin, base, ts, e, u, S, C0, b_jsd, b_corr, hist, rule,
                                                 n, d, nb)
                    if cost < math.inf and _better(best_c, best_a, best_i, cost, abs(D), float(m)):
                        best_c = cost
                        best_a = abs(D)
                        best_i = float(m)
                        best_v = xn
    else:
        k0 = 0
        while True:
            # the monotone grid ends in the first block whose last move leaves the bounds
            x_last = xj + _mul(s, mcj + _mul(float(k0 + WARP - 1), stj))
            last_block = not (x_last >= lo_j and x_last <= hi_j)
            k = k0 + lane
            xn = xj + _mul(s, mcj + _mul(float(k), stj))
            if xn >= lo_j and xn <= hi_j:
                cost = _calibrated_candidate(xn, xj, j, a_bin, base, ts, e, u, S, C0, b_jsd, b_corr, hist, rule,
                                             n, d, nb)
                if cost < math.inf and _better(best_c, best_a, best_i, cost, abs(xn - xj), float(k)):
                    best_c = cost
                    best_a = abs(xn - xj)
                    best_i = float(k)
                    best_v = xn
            if last_block:
                break
            k0 += WARP
    c, v = _warp_best(best_c, best_a, best_i, best_v, scratch4)
    return v if c < math.inf else xj


@cuda.jit
def visit_calibrated_kernel(X, events, draws, bounds, hist, cm, budgets, rule, moved):
    """The calibrated constraints in exact mode (one warp, ``calibrated_cpu.visit_events``): the
    events in order, each one's features in order, every feature's candidates scored by the warp
    against the statistics as the event's earlier moves left them, the winner applied at once
    (``_apply_event``, the CPU's order of operations)."""
    n = X.shape[0]
    d = X.shape[1]
    nb = hist.counts.shape[1]
    buf = cuda.shared.array((N_BUFFERS, MAX_FEATURES), np.float64)
    old_bins = cuda.shared.array(MAX_FEATURES, np.int64)
    scratch4 = cuda.shared.array((1, WARP, 4), np.float64)
    xs, e, u, x_new = buf[XS], buf[EV], buf[U2], buf[XNEW]
    lane = cuda.threadIdx.x
    mu, S = cm
    count = 0
    for t in range(events.shape[0]):
        i = events[t]
        any_move = False
        for j in range(d):
            for k in range(lane, d, WARP):  # the event as its earlier moves left it
                xs[k] = X[i, k]
                e[k] = xs[k] - mu[k]
                u[k] = 1.0 / math.sqrt(S[k, k])
                old_bins[k] = _bin_of(xs[k], hist.edges, k, nb)
            cuda.syncthreads()
            v = _calibrated_feature(j, t, lane, xs, old_bins, e, u, draws, bounds, hist, cm, budgets, rule, n, d,
                                    scratch4[0])
            if v != xs[j]:
                for k in range(lane, d, WARP):
                    x_new[k] = v if k == j else xs[k]
                cuda.syncthreads()
                if _apply_event(X, i, d, n, buf, old_bins, hist, cm):
                    any_move = True
            cuda.syncthreads()
        if any_move:
            count += 1
    if lane == 0:
        moved[0] += count


@cuda.jit
def coupling_kernel(S, u2, A):
    """The batch's event-independent sums, once per batch (one block): u2 = 1 / diag(S) and A."""
    d = S.shape[0]
    for k in range(cuda.threadIdx.x, d, cuda.blockDim.x):
        u2[k] = 1.0 / S[k, k]
    cuda.syncthreads()
    for j in range(cuda.threadIdx.x, d, cuda.blockDim.x):
        A[j] = _coupling_term(j, d, S, u2)


@cuda.jit(**_BATCH_OPTIONS)
def choose_batch_kernel(X, draws, bounds, hist, cm, u2, A, n, rule, X_new):
    """Batched mode: warp g chooses feature g % d of event g // d (row of ``X`` and ``draws``)
    against the statistics ``hist`` and ``cm`` as they are (``u2`` and ``A`` from
    ``coupling_kernel``), into ``X_new``. The warps are independent: no barrier, no shared
    per-event buffer."""
    S = cm.S
    scratch = cuda.shared.array((BATCH_WARPS, WARP), np.float64)
    scratch4 = cuda.shared.array((BATCH_WARPS if SIMULATOR else 1, WARP, 4), np.float64)
    warp = cuda.threadIdx.x // WARP
    lane = cuda.threadIdx.x % WARP
    m = X.shape[0]
    d = X.shape[1]
    g = cuda.blockIdx.x * BATCH_WARPS + warp
    t = g // d
    j = g - t * d
    nb = hist.terms.shape[1]
    # (a conditional expression among the arguments of a call does not compile for the GPU)
    scratch4_row = warp if SIMULATOR else 0
    if t < m:  # the same for every lane of the warp, so its shuffles stay whole
        xj = X[t, j]
        e_j, B_j, E_j = _deviation_terms(X, t, j, d, cm.mu, S, u2)
        ft = FeatureTerms(xj, _bin_of(xj, hist.edges, j, nb), e_j, S[j, j], A[j], B_j, E_j)
        v = _choose_feature(j, t, lane, ft, draws, bounds, hist, rule, n, scratch[warp], scratch4[scratch4_row])
        if lane == 0:
            X_new[t, j] = v


# ---------------------------------------------------------------------------------------------
# Host side
# ---------------------------------------------------------------------------------------------
def _to_device(a, stream=0):
    return cuda.to_device(np.ascontiguousarray(a), stream=stream)


def _grid_placeholder(U, m):
    # grid mode: U is never read, but a kernel argument cannot be empty
    return np.zeros((m, 1, 1)) if U.shape[2] == 0 else U


class GpuIteration:
    """One attack iteration on the GPU (``engines.cuda.visit``).

    The constants (bounds, bin edges, clean histograms) go to the device once. In exact mode
    (``batch`` 0 or 1) so do the set and its running statistics, which stay there across
    ``visit`` calls and come back in ``finish``. In batched mode the host keeps them: each batch
    sends the statistics as they are, the GPU chooses, and ``cpu.apply_chosen`` applies.
    """

    def __init__(self, state, batch: int = 0):
        if state.d > MAX_FEATURES:
            raise ValueError(f"the cuda engine handles up to {MAX_FEATURES} features, got {state.d}")
        self.state, self.batch, self.moved = state, int(batch), 0
        self.rule = structs.rule(state.p)
        # where a batched iteration's time goes (attacks.api.AttackResult.history, the benchmark's rows)
        # gpu_wait: the host's uploads, launches and waits for choices; host_apply: cpu.apply_chosen
        self.phase_seconds = {} if self.batch <= 1 else {"gpu_wait": 0.0, "host_apply": 0.0}
        h = state.hist
        self.bounds = structs.Bounds(_to_device(state.lo), _to_device(state.hi))
        self.edges, self.P = _to_device(h.edges), _to_device(h.P)
        if self.batch > 1:
            self.stream, self.chosen = cuda.stream(), None
        else:  # the set and its statistics live on the device for the whole iteration
            self.X = _to_device(state.X)
            self.hist = self._histograms(self._uploaded(h.counts, h.terms, h.terms_plus, h.terms_minus, h.term_sum))
            self.cm = structs.Comoments(*self._uploaded(state.pearson.mu, state.pearson.S))
            self.moved_dev = _to_device(np.zeros(1, np.int64))
        # constraints: calibrated (exact mode only: attacks.api refuses a batch with it)
        self.budgets = None if state.budgets is None else structs.Budgets(*self._uploaded(*structs.budgets(state)))

    @staticmethod
    def _uploaded(*arrays, stream=0):
        return [_to_device(a, stream) for a in arrays]

    def _histograms(self, moving) -> structs.Histograms:
        """The device's Histograms: the constant edges and P, and ``moving`` (counts, terms,
        terms_plus, terms_minus, term_sum)."""
        counts, terms, terms_plus, terms_minus, term_sum = moving
        return structs.Histograms(self.edges, counts, self.P, terms, terms_plus, terms_minus, term_sum)

    def visit(self, events, signs, mc, st, U) -> None:
        """Visit ``events`` (increasing) with their gradient signs and the host's draws."""
        draws = structs.Draws(signs, mc, st, _grid_placeholder(U, len(events)))
        if self.batch <= 1:
            self._visit_exact(events, draws)
        else:
            for start in range(0, len(events), self.batch):
                stop = start + self.batch
                self._visit_batch(events[start:stop], structs.Draws(*(a[start:stop] for a in draws)))

    def finish(self) -> int:
        """Bring the exact mode's set and statistics back to the host; returns the events moved."""
        if self.batch <= 1:
            state, h = self.state, self.state.hist
            pairs = [(self.X, state.X), (self.cm.mu, state.pearson.mu), (self.cm.S, state.pearson.S),
                     *((getattr(self.hist, f), getattr(h, f))
                       for f in ("counts", "terms", "terms_plus", "terms_minus", "term_sum"))]
            for device, host in pairs:
                host[...] = device.copy_to_host()
            self.moved += int(self.moved_dev.copy_to_host()[0])
        return self.moved

    def _visit_exact(self, events, draws) -> None:
        events, draws = _to_device(events.astype(np.int64)), structs.Draws(*self._uploaded(*draws))
        if self.budgets is not None:
            visit_calibrated_kernel[1, WARP](self.X, events, draws, self.bounds, self.hist, self.cm, self.budgets,
                                             self.rule, self.moved_dev)
        else:
            visit_exact_kernel[1, THREADS](self.X, events, draws, self.bounds, self.hist, self.cm, self.rule,
                                           self.moved_dev)

    def _visit_batch(self, events, draws) -> None:
        """Choose the batch's moves against the statistics as they are, then apply them in event
        order. The choice goes in slices of PIPELINE_EVENTS events, queued on one stream with a
        copy back and an event each: the host applies a slice while the GPU chooses the next ones.
        Every slice sees the statistics of the batch's start (uploaded before the first launch),
        so this changes when the work runs, not what it computes."""
        state, h, c = self.state, self.state.hist, self.state.pearson
        ev = events.astype(np.int64)
        m, d = len(ev), state.d
        t0 = time.perf_counter()
        # The uploads go on the batch's stream, ahead of its kernels, whatever the default stream.
        # A copy from pageable host memory returns once its data are staged, so the apply step may
        # change the host's statistics as soon as these calls return.
        stream = self.stream
        X_rows = _to_device(state.X[ev], stream)
        draws = structs.Draws(*self._uploaded(*draws, stream=stream))
        hist = self._histograms(self._uploaded(h.counts, h.terms, h.terms_plus, h.terms_minus, h.term_sum,
                                               stream=stream))
        cm = structs.Comoments(*self._uploaded(c.mu, c.S, stream=stream))
        u2, A = cuda.device_array(d, np.float64), cuda.device_array(d, np.float64)
        coupling_kernel[1, THREADS, stream](cm.S, u2, A)
        X_new = cuda.device_array((m, d), np.float64)
        if self.chosen is None or len(self.chosen) < m:  # page-locked, for copies that do not block the host
            self.chosen = cuda.pinned_array((m, d), np.float64)
        slices = []
        for a in range(0, m, PIPELINE_EVENTS):
            b = min(a + PIPELINE_EVENTS, m)
            choose_batch_kernel[-(-(b - a) * d // BATCH_WARPS), BATCH_WARPS * WARP, stream](
                X_rows[a:b], structs.Draws(*(x[a:b] for x in draws)), self.bounds, hist, cm, u2, A, state.n,
                self.rule, X_new[a:b])
            X_new[a:b].copy_to_host(self.chosen[a:b], stream=stream)
            ready = cuda.event()
            ready.record(stream)
            slices.append((a, b, ready))
        apply = 0.0
        host_hist, host_cm = structs.histograms(h), structs.comoments(c)
        for a, b, ready in slices:
            ready.synchronize()
            t1 = time.perf_counter()
            self.moved += cpu.apply_chosen(state.X, ev[a:b], self.chosen[a:b], host_hist, host_cm, self.rule)
            apply += time.perf_counter() - t1
        self.phase_seconds["gpu_wait"] += time.perf_counter() - t0 - apply
        self.phase_seconds["host_apply"] += apply


def visit(state, events, signs, bar) -> int:
    """Visit ``events`` (increasing) with their gradient ``signs`` on the GPU, in chunks of
    ``cuda_visit_chunk`` events whose draws are made on the host; the batched mode's phases go
    to ``state.phase_seconds``."""
    gpu = GpuIteration(state, state.batch_events)
    chunk = cuda_visit_chunk(state.batch_events)
    for start in range(0, events.size, chunk):
        part = events[start : start + chunk]
        gpu.visit(part, signs[start : start + chunk], *state.draws(part.size))
        bar.update(part.size)
    moved = gpu.finish()
    state.phase_seconds = gpu.phase_seconds
    return moved
