"""Benchmark of the attack engines: ``python -m conservattack.bench --case higgs --n 50000``.

Prints one JSON object per line and engine: engine, device, case, n, d, K (largest candidate count
per feature), iterations, event_visits, seconds, us_per_event_visit, peak_mem_mb (traced host
allocations of the attack), gpu_mem_mb (device memory taken during the attack, GPU engines),
rss_mb, fooling_ratio, jsd_mean, relative_fn, moved_fraction (visits that moved the event),
where the time went (visit_seconds in the per-event loop, us_per_event_visit_loop = that per visit,
model_seconds in the model's gradients and evaluation, and for batched GPU rows gpu_wait_seconds
(the host's uploads, launches and waits for the GPU's choices, the part of the choice that the
apply step does not hide) and host_apply_seconds within the loop; the rest is the per-iteration
resync and metrics),
ratio = naive time per event visit over this engine's, and speedup_vs_cpu = the cpu engine's time
per event visit over this engine's, all measured in the same invocation.

``--device cuda`` puts the model on the GPU for every engine of the run (so all see the same
gradients) and allows the engines ``cuda`` (exact, the same decisions as ``cpu``) and, with
``--batch B[,B2...]``, ``cuda-batch`` rows for the batched approximation, each with its deviation
from the exact result: dev_fooling_ratio, dev_jsd_mean, dev_relative_fn (batched minus exact) and
the fraction of values that differ; an exact ``cuda`` row carries its agreement with ``cpu`` the
same way (``identical_values``).

The data are a fixed seeded correlated two-component Gaussian mixture, min-max scaled, and the
model a fixed randomly initialised paper MLP; labels are the model's own predictions, so every
event starts correctly classified. The naive engine recomputes every statistic before each event
(O(n d^2)); at large n it is timed on the first ``--naive-events`` events of one iteration.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import tracemalloc
from dataclasses import replace

import numpy as np
import torch

from ..attacks.inference import loss_gradient_sign, predict_proba
from ..attacks.params import AttackParams
from ..attacks.state import AttackState
from ..studies.paper import PAPER_PARAMETERS
from .common import calibrated, fixed_model, synthetic_set

# The paper's attack parameters per case (studies.paper.PAPER_PARAMETERS) and the data's width.
CASES = {
    "higgs": dict(d=30, params=PAPER_PARAMETERS["higgs_attack"]),
    "ttww": dict(d=87, params=PAPER_PARAMETERS["ttww_attack"]),
    "donut": dict(d=2, params=PAPER_PARAMETERS["donut_attack"]),
}
ENGINE_ALIASES = {"exact": "cpu"}


def candidate_count(params: AttackParams) -> int:
    if params.random_mode:
        return int(params.num_candidates)
    return int(np.floor((1.0 - params.min_change) / params.step)) + 1


def _gpu_free_mb():
    from numba import cuda

    return cuda.current_context().get_memory_info()[0] / 2**20


def _time_full(engine, model, X, y, params, batch_events=0):
    """The complete attack with ``engine``: timing, outcome and the attacked set."""
    t_init = time.perf_counter()
    state = AttackState(model, X.copy(), y, np.zeros(len(X), bool), params, engine=engine,
                           batch_events=batch_events)
    init_seconds = time.perf_counter() - t_init  # the statistics, and the budgets of calibrated constraints
    gpu = engine == "cuda"
    free0 = free_min = _gpu_free_mb() if gpu else 0.0
    t0 = time.perf_counter()
    visits = moved = 0
    phases = {}
    for it in range(1, params.n_iterations + 1):
        h = state.iterate(it, progress=False)
        visits += h["events_visited"]
        moved += h["events_moved"]
        for key in h:
            if key.endswith("_seconds"):
                phases[key] = phases.get(key, 0.0) + h[key]
        if gpu:
            free_min = min(free_min, _gpu_free_mb())
    row = dict(seconds=time.perf_counter() - t0, event_visits=visits, fooling_ratio=state.fooling_ratio,
               jsd_mean=h["jsd_mean"], relative_fn=h["relative_fn"], moved_fraction=moved / max(visits, 1),
               **phases, us_per_event_visit_loop=phases["visit_seconds"] / max(visits, 1) * 1e6)
    if state.budgets is not None:
        row.update(init_seconds=init_seconds, jsd_budget_ratio_max=h["jsd_budget_ratio_max"],
                   corr_budget_ratio_max=h["corr_budget_ratio_max"])
    if gpu:
        row["gpu_mem_mb"] = free0 - free_min
    return row, state.X


def _time_naive(model, X, y, params, n_events):
    """One iteration of the naive engine on the first ``n_events`` events (visit time only)."""
    state = AttackState(model, X.copy(), y, np.zeros(len(X), bool), params, engine="naive")
    visit = np.arange(min(n_events, len(X)))
    signs = loss_gradient_sign(model, X[visit], y[visit])
    sign_of = dict(zip(visit.tolist(), range(visit.size)))
    from tqdm import tqdm

    bar = tqdm(disable=True)
    t0 = time.perf_counter()
    state.visit_reference(visit, sign_of, signs, bar)
    return time.perf_counter() - t0, visit.size


def _time_reference(model, X, y, params, n_chunks, engine, visits=None):
    """The reference rule (``rule: reference``) with ``n_chunks`` chunks on ``engine``: the whole
    attack, or for the numpy emulation the first ``visits`` events of one iteration (the others
    masked: still in every statistic, as in a full iteration)."""
    from ..attacks.api import attack

    params = replace(params, rule="reference", n_chunks=n_chunks, **({"n_iterations": 1} if visits else {}))
    mask = None
    if visits:
        mask = np.ones(len(X), bool)
        mask[:visits] = False
    t0 = time.perf_counter()
    result = attack(model, X, y, params, mask=mask, progress=False, engine=engine)
    seconds = time.perf_counter() - t0
    h = result.history
    visited = sum(r["events_visited"] for r in h)
    row = dict(engine=f"reference-{engine}", rule="reference", n_chunks=n_chunks, seconds=seconds,
               event_visits=visited, iterations=params.n_iterations, us_per_event_visit=seconds / max(visited, 1) * 1e6,
               moved_fraction=sum(r["events_moved"] for r in h) / max(visited, 1))
    if not visits:  # outcome of the whole attack, and the compiled engine's trips back to numpy
        row.update(fooling_ratio=result.fooling_ratio, jsd_mean=h[-1]["jsd_mean"], relative_fn=h[-1]["relative_fn"],
                   reference_relative_fn=h[-1]["reference_relative_fn"],
                   cross_chunk_max_shift=h[-1]["cross_chunk_max_shift"],
                   exact_jsd_calls=sum(r.get("exact_jsd_calls", 0) for r in h),
                   fallback_visits=sum(r.get("fallback_visits", 0) for r in h))
    return row


def _time_calibrated(model, X, y, params, engine="cpu"):
    """The whole attack under the calibrated constraints on ``engine`` (cpu or cuda), the bootstrap
    included: ``calibration_seconds`` of ``seconds`` is the budgets' computation. Returns the row
    and the attacked set."""
    t0 = time.perf_counter()
    row, X_adv = _time_full(engine, model, X, y, calibrated(params))
    row.update(engine=f"calibrated-{engine}", constraints="calibrated", iterations=params.n_iterations,
               seconds=time.perf_counter() - t0)
    row.update(calibration_seconds=row.pop("init_seconds"),
               us_per_event_visit=row["seconds"] / max(row["event_visits"], 1) * 1e6)
    # what the bootstrap adds to the attack it calibrates (the same attack's time without it)
    row["calibration_overhead"] = row["calibration_seconds"] / (row["seconds"] - row["calibration_seconds"])
    return row, X_adv


def _deviation(row, reference, X, X_ref):
    row.update(dev_fooling_ratio=row["fooling_ratio"] - reference["fooling_ratio"],
               dev_jsd_mean=row["jsd_mean"] - reference["jsd_mean"],
               dev_relative_fn=row["relative_fn"] - reference["relative_fn"],
               identical_values=float((X == X_ref).mean()))


def problem(case: str, n: int, seed: int = 0, iterations: int | None = None, device: str = "cpu"):
    """A case's attack parameters, its synthetic set of n events, the fixed model (on ``device``)
    and the model's own labels: ``(params, X, model, y)``."""
    spec = CASES[case]
    params = AttackParams(**{**spec["params"], **({"n_iterations": iterations} if iterations else {})}, seed=seed)
    X = synthetic_set(n, spec["d"], seed)
    model = fixed_model(spec["d"], seed).to(device)
    y = (predict_proba(model, X) >= 0.5).astype(np.int64)
    return params, X, model, y


def run(case: str, n: int, engines, device: str = "cpu", naive_events: int = 20, seed: int = 0,
        iterations: int | None = None, batches=(), emit=None, allow_simulator: bool = False, chunks=(1, 4)):
    """The benchmark rows; ``emit(row)`` is called as each row is complete (the CLI prints them).
    ``reference`` / ``reference-numpy`` in ``engines``: rows of the reference rule (compiled, the
    whole attack; numpy emulation, ``naive_events`` visits) for each chunk count in ``chunks``.
    ``allow_simulator``: let ``device="cuda"`` run in numba's CUDA simulator (the tests' smoke run
    of this path on tiny sizes; its timings mean nothing)."""
    spec = CASES[case]
    d = spec["d"]
    simulated = False  # the model stays on the CPU in the simulator (torch has no CUDA there)
    if device == "cuda":
        from ..attacks.engines.cuda import SIMULATOR, available

        if not available() or (SIMULATOR and not allow_simulator):
            raise SystemExit("--device cuda: numba finds no CUDA GPU here")
        simulated = SIMULATOR
    elif "cuda" in engines or batches:
        raise SystemExit("the cuda engine and --batch need --device cuda")
    params, X, model, y = problem(case, n, seed, iterations, "cpu" if simulated else device)
    warm = AttackParams(**{**spec["params"], "n_iterations": 1})
    for engine in {"cpu", "cuda"} & set(engines + (["cuda"] if batches else [])):  # compile outside the timing
        _time_full(engine, model, X[:200], y[:200], warm)
        if engine == "cuda" and batches:
            _time_full(engine, model, X[:200], y[:200], warm, batch_events=2)
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

    def finish(r):  # fields known once the naive and cpu rows exist (they run first)
        cpu_us = results["cpu"][0]["us_per_event_visit"] if "cpu" in results else None
        r.update(device=device, case=case, n=n, d=d, K=candidate_count(params),
                 rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                 threads=torch.get_num_threads(),
                 ratio=(naive_us / r["us_per_event_visit"]) if naive_us else None,
                 speedup_vs_cpu=(cpu_us / r["us_per_event_visit"]) if cpu_us else None)
        if emit:
            emit(r)

    results = {}
    for r in rows:
        finish(r)
    for k in chunks if {"reference", "reference-numpy"} & set(engines) else ():
        k = min(k, d)
        if "reference" in engines:
            _time_reference(model, X[:200], y[:200], replace(params, n_iterations=1), k, "cpu")  # compile
            rows.append(_time_reference(model, X, y, params, k, "cpu"))
            finish(rows[-1])
        if "reference-numpy" in engines:
            rows.append(_time_reference(model, X, y, params, k, "numpy", visits=naive_events))
            finish(rows[-1])
    ordered = sorted((e for e in engines if e not in ("naive", "reference", "reference-numpy", "calibrated")),
                     key=lambda e: e != "cpu")
    runs = [(e, 0) for e in ordered] + [("cuda", b) for b in batches]
    for engine, batch in runs:
        tracemalloc.start()
        row, X_adv = _time_full(engine, model, X, y, params, batch_events=batch)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        name = "cuda-batch" if batch else engine
        row.update(engine=name, iterations=params.n_iterations, peak_mem_mb=peak,
                   us_per_event_visit=row["seconds"] / row["event_visits"] * 1e6)
        if batch:
            from ..attacks.engines.cuda import BATCH_REGISTERS

            row.update(batch_events=batch, batch_registers=BATCH_REGISTERS)  # the choice kernel's cap (0: none)
            exact = results.get("cuda") or results.get("cpu")
            if exact:
                _deviation(row, exact[0], X_adv, exact[1])
        else:
            results[engine] = (row, X_adv)
            if engine == "cuda" and "cpu" in results:
                _deviation(row, results["cpu"][0], X_adv, results["cpu"][1])
        rows.append(row)
        finish(row)
    # after the per-move cpu row, whose time it is compared with; on --device cuda also the cuda
    # engine's calibrated kernel, compared with the cpu row to the bit
    calibrated_cpu = None
    for engine in (["cpu"] + (["cuda"] if device == "cuda" else [])) if "calibrated" in engines else []:
        _time_calibrated(model, X[:200], y[:200], warm, engine)  # compile
        row, X_adv = _time_calibrated(model, X, y, params, engine)
        if "cpu" in results:
            row["calibration_share_of_cpu_attack"] = row["calibration_seconds"] / results["cpu"][0]["seconds"]
        if calibrated_cpu is None:
            calibrated_cpu = (row, X_adv)
        else:
            _deviation(row, calibrated_cpu[0], X_adv, calibrated_cpu[1])
            row["speedup_vs_calibrated_cpu"] = calibrated_cpu[0]["seconds"] / row["seconds"]
        rows.append(row)
        finish(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m conservattack.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--case", choices=[*sorted(CASES), "disco"], default="higgs",
                    help="attack engines on a case's parameters, or disco (conservattack.bench.disco)")
    ap.add_argument("--n", type=int, default=None,
                    help="events in the synthetic set (up to 1,000,000; default 50,000; disco: 1,000, 2,500, 10,000)")
    ap.add_argument("--engines", default="exact,naive",
                    help="comma-separated: exact (= cpu), cpu, cuda, numpy, naive; reference (the reference rule "
                         "compiled), reference-numpy (its numpy emulation, timed on --naive-events visits); "
                         "calibrated (the calibrated constraints on cpu, and on cuda with --device cuda, the "
                         "bootstrap included)")
    ap.add_argument("--chunks", default="1,4", help="comma-separated feature-chunk counts of the reference rows")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--naive-events", type=int, default=20, help="events the naive engine is timed on")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--iterations", type=int, default=None,
                    help="attack iterations (default: the case's, 10); fewer for quick scaling rows")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--batch", default="",
                    help="comma-separated batch sizes B for rows of the batched cuda mode (with --device cuda)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.case == "disco":  # distance-correlation rows (conservattack.bench.disco)
        from .disco import run_cli

        return run_cli(args)
    engines = [ENGINE_ALIASES.get(e, e) for e in args.engines.split(",") if e]
    known = ("cpu", "cuda", "numpy", "naive", "reference", "reference-numpy", "calibrated")
    unknown = sorted(set(engines) - set(known))
    if unknown:
        ap.error(f"unknown engine(s) {unknown}; expected exact or one of {', '.join(known)}")
    try:
        chunks = [int(k) for k in args.chunks.split(",") if k]
    except ValueError:
        ap.error(f"--chunks takes comma-separated integers, got {args.chunks!r}")
    if any(k < 1 for k in chunks):
        ap.error(f"--chunks must be >= 1, got {chunks}")
    try:
        batches = [int(b) for b in args.batch.split(",") if b]
    except ValueError:
        ap.error(f"--batch takes comma-separated integers, got {args.batch!r}")
    if any(b < 2 for b in batches):
        ap.error(f"--batch sizes must be >= 2, got {batches}")
    run(args.case, args.n or 50_000, engines, args.device, args.naive_events, args.seed, args.iterations, batches,
        emit=lambda row: print(json.dumps(row), flush=True), chunks=chunks)
    return 0

