"""Slow, literal reference implementation ("oracle") of the CONSERVAttack attack.

Written independently from the method's statement (docs/method.md section 2, first written as the project's SPEC) plus the conventions fixed for the fast
implementation (see the test-suite brief). Everything is recomputed from scratch for every
candidate: no running statistics, no vectorised shortcuts beyond numpy/scipy primitives.
It is deliberately slow and only meant for small inputs (n ~ 100-300, d ~ 2-6).

Conventions (mirrored from the fast implementation):
1. `fooled` starts all False; masked events are never visited/moved/fooled.
2. Gradient sign at the start of each iteration, float32 input,
   BCE(reduction='sum'); sign +1 where grad >= 0, else -1.
3. Visit order: not fooled and not masked, increasing index; all d features of an event are
   evaluated against the statistics before the event moves, then applied together.
4. Grid: delta = s * (min_change + k * step), k = 0, 1, ... while lo <= x + delta <= hi.
5. Random mode: rng = default_rng(seed) once per attack; per visited event: jitter first (if
   randomize_step), then u = rng.random((d, N)) (random mode only); room < mc -> no candidates;
   delta = s * (mc + u * (room - mc)); sorted by |delta| (stable).
6. Choice: least-cost admissible (first in order on ties); else no move (use_no_change) or
   least-cost candidate; no candidates -> no move.
7. Step 3: fooled |= (pred != y) & ~mask with pred = p >= 0.5 on float32 p.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.distance import jensenshannon


def _gradient_signs(model, Xsub, ysub):
    """Sign of d BCE(sum) / d x for the given rows. +1 where grad >= 0, else -1."""
    xt = torch.tensor(np.asarray(Xsub), dtype=torch.float32, requires_grad=True)
    yt = torch.tensor(np.asarray(ysub), dtype=torch.float32)
    p = model(xt).reshape(-1)
    loss = torch.nn.functional.binary_cross_entropy(p, yt, reduction="sum")
    (g,) = torch.autograd.grad(loss, xt)
    g = g.detach().numpy()
    return np.where(g >= 0, 1.0, -1.0)


def _feature_hist(col, num_bins, lo, hi, n):
    return np.histogram(col, bins=num_bins, range=(lo, hi))[0] / n


def candidate_table(Xcur, i, j, deltas, P, lo, hi, num_bins, alpha, beta, max_jsd, max_frob):
    """For each candidate delta of (event i, feature j), recompute from scratch.

    Returns list of dicts (delta, jsd, fn, cost, admissible), in the order of `deltas`.
    """
    n = Xcur.shape[0]
    C_cur = np.corrcoef(Xcur, rowvar=False)
    out = []
    for delta in deltas:
        Xmod = Xcur.copy()
        Xmod[i, j] = Xcur[i, j] + delta
        Q = _feature_hist(Xmod[:, j], num_bins, lo[j], hi[j], n)
        jsd = float(jensenshannon(P[j], Q, base=2))
        if not np.isfinite(jsd):  # identical-zero safety; never expected
            jsd = 0.0
        C_mod = np.corrcoef(Xmod, rowvar=False)
        fn = float(np.linalg.norm(C_mod - C_cur))
        cost = alpha * jsd + beta * fn
        adm = (jsd <= max_jsd) and (fn <= max_frob)
        out.append(dict(delta=float(delta), jsd=jsd, fn=fn, cost=cost, admissible=adm))
    return out


def _grid_deltas(x, s, mc, st, lo_j, hi_j):
    deltas = []
    k = 0
    while True:
        delta = s * (mc + k * st)
        if lo_j <= x + delta <= hi_j:
            deltas.append(delta)
            k += 1
        else:
            break
    return deltas


def _choose(table, use_no_change):
    """Return chosen delta (0.0 for no move)."""
    if len(table) == 0:
        return 0.0
    best = None
    for row in table:
        if row["admissible"]:
            if best is None or row["cost"] < best["cost"]:
                best = row
    if best is not None:
        return best["delta"]
    if use_no_change:
        return 0.0
    best = None
    for row in table:
        if best is None or row["cost"] < best["cost"]:
            best = row
    return best["delta"]


def oracle_attack(model, X, y, params, mask=None, trace=None):
    """Literal reference attack. Returns (X_adv float64 n x d, fooled bool n).

    If `trace` is a list, one record per (iteration, event, feature) is appended:
    dict(it, i, j, x, s, table, chosen).
    """
    p = dict(params)
    X0 = np.array(X, dtype=np.float64, copy=True)
    y = np.asarray(y)
    n, d = X0.shape
    mask = np.zeros(n, dtype=bool) if mask is None else np.asarray(mask, dtype=bool).copy()

    min_change = float(p["min_change"])
    step = float(p["step"])
    N = p.get("num_candidates", None)
    n_iterations = int(p["n_iterations"])
    num_bins = int(p["num_bins"])
    alpha = float(p["alpha"])
    beta = float(p["beta"])
    max_jsd = float(p["max_jsd_single_change"])
    max_frob = float(p["max_frob_single_change"])
    use_no_change = bool(p["use_no_change"])
    randomize_step = bool(p.get("randomize_step", False))
    f = float(p.get("random_step_frac", 0.0))
    rng = np.random.default_rng(p.get("seed", None))

    # clean reference statistics
    lo = np.array([X0[:, j].min() for j in range(d)])
    hi = np.array([X0[:, j].max() for j in range(d)])
    P = [_feature_hist(X0[:, j], num_bins, lo[j], hi[j], n) for j in range(d)]

    Xcur = X0.copy()
    fooled = np.zeros(n, dtype=bool)
    y_int = y.astype(np.int64)

    for it in range(n_iterations):
        visit = [i for i in range(n) if (not fooled[i]) and (not mask[i])]
        if len(visit) == 0:
            break
        # step 1: gradient signs at start of iteration
        S = _gradient_signs(model, Xcur[visit], y[visit].astype(np.float64))
        sign_of = {i: S[r] for r, i in enumerate(visit)}

        # step 2: visit events
        for i in visit:
            s_vec = sign_of[i]
            if randomize_step:
                jit = rng.uniform(1 - f, 1 + f, size=d)
                mc_vec = [min_change * jit[j] for j in range(d)]
                st_vec = [step * jit[j] for j in range(d)]
            else:
                mc_vec = [min_change] * d
                st_vec = [step] * d
            if N is not None:
                u = rng.random((d, int(N)))

            chosen = [0.0] * d
            for j in range(d):
                x = Xcur[i, j]
                s = float(s_vec[j])
                if N is None:
                    deltas = _grid_deltas(x, s, mc_vec[j], st_vec[j], lo[j], hi[j])
                else:
                    room = (hi[j] - x) if s > 0 else (x - lo[j])
                    if room < mc_vec[j]:
                        deltas = []
                    else:
                        deltas = [s * (mc_vec[j] + u[j, m] * (room - mc_vec[j]))
                                  for m in range(int(N))]
                        order = sorted(range(len(deltas)), key=lambda m: abs(deltas[m]))
                        deltas = [deltas[m] for m in order]
                table = candidate_table(Xcur, i, j, deltas, P, lo, hi, num_bins,
                                        alpha, beta, max_jsd, max_frob)
                chosen[j] = _choose(table, use_no_change)
                if trace is not None:
                    trace.append(dict(it=it, i=i, j=j, x=x, s=s, table=table,
                                      chosen=chosen[j]))
            # apply the d chosen moves together
            for j in range(d):
                if chosen[j] != 0.0:
                    Xcur[i, j] = min(max(Xcur[i, j] + chosen[j], lo[j]), hi[j])

        # step 3: re-evaluate
        with torch.no_grad():
            p32 = model(torch.as_tensor(Xcur, dtype=torch.float32)).reshape(-1)
        pred = (p32 >= 0.5).numpy().astype(np.int64)
        fooled |= (pred != y_int) & ~mask

    fooled &= ~mask
    return Xcur, fooled
