"""Distance-correlation benchmark: ``python -m conservattack.bench --case disco [--n N]``.

Prints JSON lines in the engine benchmark's format (``conservattack.bench.engines``): engine, device,
case ("disco"), n, d (30), K (grid candidates per feature), event_visits, seconds,
us_per_event_visit, peak_mem_mb (traced allocations), ratio, plus row-specific fields.

Candidate rows, per n (default 1,000, 2,500 and 10,000; ``--n`` gives one): one *event visit*
evaluates the Frobenius norm of the dCor-matrix change for all d x K candidates of one event,
against the current statistics (the Higgs DisCo grid: min_change 0.015, step 0.06, K = 17):
- ``disco-incremental``: ``RunningDistanceCorrelation`` (the compiled walk, what the attack uses);
- ``disco-direct``: the same sums with every candidate's distance changes formed explicitly,
  O(n d) per candidate;
- ``disco-full``: the distance-correlation matrix rebuilt from scratch for a candidate
  (O(n^2 d^2), what the paper did), timed on ``--naive-events`` candidates at most and at most
  about a minute, then scaled to d x K candidates per event visit (``candidates_timed``).
``ratio`` = disco-full time per event visit over the row's. ``setup_seconds``: the from-scratch
sums the running statistics start from (and re-synchronise to once per attack iteration).

Attack rows (``disco-attack``): the complete DisCo attack with the Higgs DisCo parameters
(10 iterations, or ``--iterations``) at the paper's sizes, 2,500 and 1,000 events (or ``--n``),
on the synthetic set and the fixed random MLP of ``conservattack.bench.common``; ``ratio`` there is the
disco-full time per event visit at the same n times the visits, over the attack's time: the
estimated speed-up over rebuilding dCor per candidate. Row ``disco-calibrated-attack``: the same
attack under the calibrated constraints (docs/method.md section 2.13; 200 bootstrap resamples for
the JSD budgets, the jackknife for the dCor ones), ``calibration_seconds`` of its ``seconds`` the
budgets' computation and ``calibration_overhead`` their share of the rest.
"""

from __future__ import annotations

import resource
import time
import tracemalloc

import numpy as np
import torch

from ..attacks.disco import DiscoAttack, RunningDistanceCorrelation, distance_correlation_matrix
from ..attacks.inference import predict_proba
from ..attacks.params import AttackParams
from ..studies.paper import PAPER_PARAMETERS
from .common import calibrated, fixed_model, synthetic_set

# The paper's Higgs DisCo attack (docs/method.md section 2.12).
HIGGS_DISCO = dict(PAPER_PARAMETERS["higgs_disco_attack"], use_disco=True)
D_FEATURES = 30
CANDIDATE_SIZES = (1000, 2500, 10000)
ATTACK_SIZES = (2500, 1000)
FULL_BUDGET_S = 60.0


def _grid_deltas(x, rng, params):
    """The attack's grid candidates for one event, random signs, clipped to [0, 1] (d x K)."""
    s = np.where(rng.random(x.size) < 0.5, -1.0, 1.0)
    K = int(np.floor((1.0 - params.min_change) / params.step)) + 1
    D = s[:, None] * (params.min_change + params.step * np.arange(K))[None, :]
    return np.clip(x[:, None] + D, 0.0, 1.0) - x[:, None]


def _traced(fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    secs = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, secs, peak


def candidate_rows(n: int, seed: int = 0, events: int = 20, full_candidates: int = 20):
    """Rows ``disco-incremental``, ``disco-direct`` and ``disco-full`` at n events."""
    params = AttackParams(**HIGGS_DISCO)
    X = synthetic_set(n, D_FEATURES, seed)
    events = max(1, min(events, n))
    rows = []
    for engine, method in (("disco-incremental", "walk"), ("disco-direct", "direct")):
        rd, setup, _ = _traced(lambda: RunningDistanceCorrelation(X, method=method))
        rng = np.random.default_rng(seed)
        visits = [(int(i), _grid_deltas(X[i], rng, params)) for i in rng.choice(n, events, replace=False)]
        if method == "walk":  # compile outside the timing
            rd.candidate_frobenius(visits[0][1][:1, :2], *rd.event_terms(X[visits[0][0]]))

        def run():
            for i, D in visits:
                rd.candidate_frobenius(D, *rd.event_terms(X[i]))

        _, secs, peak = _traced(run)
        K = visits[0][1].shape[1]
        rows.append(dict(engine=engine, event_visits=events, seconds=secs, us_per_event_visit=secs / events * 1e6,
                         us_per_candidate=secs / (events * D_FEATURES * K) * 1e6, peak_mem_mb=peak,
                         setup_seconds=setup))
    # Full recomputation per candidate: rebuild the matrix with one value moved.
    rng = np.random.default_rng(seed + 1)
    C = distance_correlation_matrix(X)
    timed, secs, peak_full = 0, 0.0, 0.0
    while timed < max(1, full_candidates) and (timed == 0 or secs < FULL_BUDGET_S):
        i, j = int(rng.integers(n)), int(rng.integers(D_FEATURES))
        Y = X.copy()
        Y[i, j] = min(1.0, Y[i, j] + params.min_change)
        (_, s, peak) = _traced(lambda: np.linalg.norm(distance_correlation_matrix(Y) - C))
        secs += s
        peak_full = max(peak_full, peak)
        timed += 1
    K = int(np.floor((1.0 - params.min_change) / params.step)) + 1
    per_candidate = secs / timed
    full_us = per_candidate * D_FEATURES * K * 1e6
    rows.append(dict(engine="disco-full", event_visits=timed / (D_FEATURES * K), seconds=secs,
                     us_per_event_visit=full_us, us_per_candidate=per_candidate * 1e6, candidates_timed=timed,
                     peak_mem_mb=peak_full, setup_seconds=0.0))
    for r in rows:
        r.update(case="disco", n=n, d=D_FEATURES, K=K, ratio=full_us / r["us_per_event_visit"])
    return rows, full_us


def attack_row(n: int, seed: int = 0, iterations: int | None = None, full_us: float | None = None,
               calibrated_constraints: bool = False):
    """The complete DisCo attack at n events (row ``disco-attack``; ``disco-calibrated-attack``
    with ``calibrated_constraints``)."""
    params = AttackParams(**{**HIGGS_DISCO, **({"n_iterations": iterations} if iterations else {})}, seed=seed)
    params = calibrated(params) if calibrated_constraints else params
    X = synthetic_set(n, D_FEATURES, seed)
    model = fixed_model(D_FEATURES, seed)
    y = (predict_proba(model, X) >= 0.5).astype(np.int64)
    DiscoAttack(model, X[:50].copy(), y[:50], np.zeros(50, bool), params).iterate(1, False)  # compile

    def run():
        state = DiscoAttack(model, X.copy(), y, np.zeros(n, bool), params)
        return state, [state.iterate(it, progress=False) for it in range(1, params.n_iterations + 1)]

    (state, history), secs, peak = _traced(run)
    visits = sum(h["events_visited"] for h in history)
    moved = sum(h["events_moved"] for h in history)
    K = int(np.floor((1.0 - params.min_change) / params.step)) + 1
    row = dict(engine="disco-calibrated-attack" if calibrated_constraints else "disco-attack", case="disco", n=n,
               d=D_FEATURES, K=K, iterations=params.n_iterations, event_visits=visits, seconds=secs,
               us_per_event_visit=secs / max(visits, 1) * 1e6, peak_mem_mb=peak,
               fooling_ratio=state.fooling_ratio, moved_fraction=moved / max(visits, 1),
               relative_fn=history[-1]["relative_fn"], jsd_max=history[-1]["jsd_max"],
               ratio=(full_us * visits / 1e6 / secs) if full_us else None)
    if calibrated_constraints:
        b = state.budgets
        row.update(constraints="calibrated", calibration_seconds=b.seconds,
                   calibration_overhead=b.seconds / (secs - b.seconds),
                   jsd_budget_ratio_max=history[-1]["jsd_budget_ratio_max"],
                   corr_budget_ratio_max=history[-1]["corr_budget_ratio_max"])
    return row


def run_cli(args):
    """``bench.main`` with ``--case disco``: prints the rows as JSON lines; uses ``args.n``,
    ``args.seed``, ``args.iterations`` and ``args.naive_events`` (full-recomputation candidates)."""
    import json

    if args.device != "cpu":
        raise SystemExit(f"--case disco --device {args.device}: the distance-correlation attack runs on the CPU only")
    sizes = (args.n,) if args.n else CANDIDATE_SIZES
    attack_sizes = (args.n,) if args.n else ATTACK_SIZES
    full = {}
    common = dict(device="cpu", threads=torch.get_num_threads())
    for n in sizes:
        rows, full[n] = candidate_rows(n, args.seed, full_candidates=args.naive_events)
        for r in rows:
            r.update(common, rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            print(json.dumps(r), flush=True)
    for n in attack_sizes:
        for calibrated_constraints in (False, True):
            r = attack_row(n, args.seed, args.iterations, full.get(n), calibrated_constraints)
            r.update(common, rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            print(json.dumps(r), flush=True)
    return 0
