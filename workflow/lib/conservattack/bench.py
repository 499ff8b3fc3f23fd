"""Benchmark of the attack engines: ``python -m conservattack.bench --case higgs --n 50000``.

Prints one JSON object per line and engine: engine, device, case, n, d, K (largest candidate count
per feature), iterations, event_visits, seconds, us_per_event_visit, peak_mem_mb (traced
allocations of the attack), rss_mb, fooling_ratio, moved_fraction (visits that moved the event),
and ratio = naive time per event visit over
this engine's, measured in the same invocation.

The data are a fixed seeded correlated two-component Gaussian mixture, min-max scaled, and the
model a fixed randomly initialised paper MLP; labels are the model's own predictions, so every
event starts correctly classified. The naive engine recomputes every statistic before each event
(O(n d^2)); at large n it is timed on the first ``--naive-events`` events of one iteration.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc

import numpy as np
import torch

from .attacks import _ConservAttack
from .inference import loss_gradient_sign, predict_proba
from .models import PaperMLP
from .params import AttackParams

# Attack parameters of SPEC section 2 per case.
CASES = {
    "higgs": dict(d=30, params=dict(min_change=0.0005, step=0.0005, n_iterations=10, num_bins=200, alpha=4.0,
                                    beta=1.0, max_jsd_single_change=0.006, max_frob_single_change=0.0002)),
    "ttww": dict(d=87, params=dict(min_change=0.005, step=0.01, n_iterations=10, num_bins=200, alpha=6.5,
                                   beta=1.0, max_jsd_single_change=0.003, max_frob_single_change=0.003)),
    "donut": dict(d=2, params=dict(min_change=0.001, num_candidates=150, n_iterations=10, num_bins=70,
                                   alpha=6.0, beta=1.0, max_jsd_single_change=0.005,
                                   max_frob_single_change=0.05)),
}
ENGINE_ALIASES = {"exact": "cpu"}


def synthetic_set(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Correlated two-component Gaussian mixture, min-max scaled to [0, 1]."""
    rng = np.random.default_rng(seed)
    L = rng.normal(size=(d, d)) / np.sqrt(d)
    shift = rng.normal(size=d)
    comp = rng.random(n) < 0.5
    X = rng.normal(size=(n, d)) @ L.T + np.where(comp[:, None], shift, -shift)
    return (X - X.min(0)) / (X.max(0) - X.min(0))


def fixed_model(d: int, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = PaperMLP(d)
    model.eval()
    # a freshly initialised BatchNorm is the identity; give it data-like statistics
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(0.0, 0.5)
                m.running_var.uniform_(0.05, 0.5)
    return model


def candidate_count(params: AttackParams) -> int:
    if params.random_mode:
        return int(params.num_candidates)
    return int(np.floor((1.0 - params.min_change) / params.step)) + 1


def _time_full(engine, model, X, y, params, device):
    """The complete attack with ``engine``; returns (seconds, event visits, fooling ratio)."""
    state = _ConservAttack(model, X.copy(), y, np.zeros(len(X), bool), params, engine=engine)
    t0 = time.perf_counter()
    visits = moved = 0
    for it in range(1, params.n_iterations + 1):
        h = state.iterate(it, progress=False)
        visits += h["events_visited"]
        moved += h["events_moved"]
    return time.perf_counter() - t0, visits, state._ratio(), moved / max(visits, 1)


def _time_naive(model, X, y, params, n_events):
    """One iteration of the naive engine on the first ``n_events`` events (visit time only)."""
    state = _ConservAttack(model, X.copy(), y, np.zeros(len(X), bool), params, engine="naive")
    visit = np.arange(min(n_events, len(X)))
    signs = loss_gradient_sign(model, X[visit], y[visit])
    sign_of = dict(zip(visit.tolist(), range(visit.size)))
    from tqdm import tqdm

    bar = tqdm(disable=True)
    t0 = time.perf_counter()
    state._visit_python(visit, sign_of, signs, bar, naive=True)
    return time.perf_counter() - t0, visit.size


def run(case: str, n: int, engines, device: str = "cpu", naive_events: int = 20, seed: int = 0,
        iterations: int | None = None):
    spec = CASES[case]
    d = spec["d"]
    params = AttackParams(**{**spec["params"], **({"n_iterations": iterations} if iterations else {})}, seed=seed)
    if device != "cpu":
        raise SystemExit(f"--device {device}: only the CPU engines exist so far")
    X = synthetic_set(n, d, seed)
    model = fixed_model(d, seed)
    y = (predict_proba(model, X) >= 0.5).astype(np.int64)
    if "cpu" in engines:  # compile once outside the timing
        _time_full("cpu", model, X[:200], y[:200], AttackParams(**{**spec["params"], "n_iterations": 1}), device)
    rows = []
    naive_us = None
    if "naive" in engines:
        tracemalloc.start()
        secs, visits = _time_naive(model, X, y, params, naive_events)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        naive_us = secs / visits * 1e6
        rows.append(dict(engine="naive", seconds=secs, event_visits=visits, iterations=1,
                         us_per_event_visit=naive_us, peak_mem_mb=peak, fooling_ratio=None))
    for engine in [e for e in engines if e != "naive"]:
        tracemalloc.start()
        secs, visits, fr, moved = _time_full(engine, model, X, y, params, device)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        rows.append(dict(engine=engine, seconds=secs, event_visits=visits, iterations=params.n_iterations,
                         us_per_event_visit=secs / visits * 1e6, peak_mem_mb=peak, fooling_ratio=fr,
                         moved_fraction=moved))
    for r in rows:
        r.update(device=device, case=case, n=n, d=d, K=candidate_count(params),
                 rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                 threads=torch.get_num_threads(),
                 ratio=(naive_us / r["us_per_event_visit"]) if naive_us else None)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m conservattack.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--case", choices=sorted(CASES), default="higgs")
    ap.add_argument("--n", type=int, default=50_000, help="events in the synthetic set (up to 1,000,000)")
    ap.add_argument("--engines", default="exact,naive",
                    help="comma-separated: exact (= cpu), cpu, numpy, naive")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--naive-events", type=int, default=20, help="events the naive engine is timed on")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--iterations", type=int, default=None,
                    help="attack iterations (default: the case's, 10); fewer for quick scaling rows")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    engines = [ENGINE_ALIASES.get(e, e) for e in args.engines.split(",") if e]
    unknown = sorted(set(engines) - {"cpu", "numpy", "naive"})
    if unknown:
        ap.error(f"unknown engine(s) {unknown}; expected exact, cpu, numpy, naive")
    for row in run(args.case, args.n, engines, args.device, args.naive_events, args.seed, args.iterations):
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
