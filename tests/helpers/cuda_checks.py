"""Checks of the cuda engine, shared by the GPU tests and the CUDA-simulator run.

Run as a script (``NUMBA_ENABLE_CUDASIM=1 python tests/cuda_checks.py``) it executes every check on
small inputs in numba's CUDA simulator, which runs the GPU kernels on the CPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from problems import correlated_unit_data, model_labels, small_model  # noqa: E402
from conservattack import AttackParams, attack  # noqa: E402
from conservattack.attacks import engines  # noqa: E402
from conservattack.attacks.engines import cuda as cuda_engine  # noqa: E402
from conservattack.bench import engines as bench  # noqa: E402
from conservattack.attacks.state import AttackState  # noqa: E402
from conservattack.attacks.inference import loss_gradient_sign  # noqa: E402

# the crowded batched case: enough events and tight enough limits that applying the choices in
# event order drops some (about 12 % of the chosen moves)
BATCH_N = 40
BATCH_CROWDED = {"max_frob_single_change": 0.01, "max_jsd_single_change": 0.05}
MODES = {
    "grid": {},
    "grid-fallback": {"use_no_change": False},
    "random-jitter": {"num_candidates": 20, "randomize_step": True, "random_step_frac": 0.3},
}


def problem(n: int, d: int, seed: int, **extra):
    X = correlated_unit_data(n, d, seed)
    model = small_model(d, seed + 1)
    y = model_labels(model, X)
    params = AttackParams(**{**dict(min_change=0.01, step=0.04, n_iterations=1, num_bins=10, alpha=4.0, beta=1.0,
                                    max_jsd_single_change=0.1, max_frob_single_change=0.05, seed=seed), **extra})
    return model, X, y, params


def check_exact_matches_cpu(model, X, y, params, mask=None):
    """The cuda engine's attack equals the cpu engine's to the bit (set, fooled, history)."""
    a = attack(model, X, y, params, mask=mask, progress=False, engine="cpu")
    b = attack(model, X, y, params, mask=mask, progress=False, engine="cuda")
    moved = (a.X_adv != X).any(axis=1).mean()
    assert moved > 0.2, f"the case must move events (moved {moved:.2f})"
    assert np.array_equal(a.X_adv, b.X_adv), f"{(a.X_adv != b.X_adv).sum()} values differ from the cpu engine"
    assert np.array_equal(a.fooled, b.fooled)
    assert [h["fooling_ratio"] for h in a.history] == [h["fooling_ratio"] for h in b.history]
    return moved


def check_batched_semantics(model, X, y, params):
    """One batch holding every event, chosen on the GPU in three slices: each feature ends at the
    reference engine's choice against the statistics before any move, or, where applying it in
    event order would break a per-move limit (``use_no_change``), at its old value; the first
    event's moves are never dropped. The events' draws are made in two chunks, which must not cut
    the batch."""
    params = AttackParams(**{**params.to_dict(), "n_iterations": 1})
    pipeline_events, visit_events = cuda_engine.PIPELINE_EVENTS, engines.CUDA_VISIT_EVENTS
    cuda_engine.PIPELINE_EVENTS = -(-len(X) // 3)  # the batch goes to the GPU in three slices
    engines.CUDA_VISIT_EVENTS = -(-len(X) // 2)  # and is larger than the draw chunk
    try:
        res = attack(model, X, y, params, progress=False, engine="cuda", batch_events=len(X))
    finally:
        cuda_engine.PIPELINE_EVENTS, engines.CUDA_VISIT_EVENTS = pipeline_events, visit_events
    ref = AttackState(model, X.copy(), y, np.zeros(len(X), bool), params, engine="numpy")
    signs = loss_gradient_sign(model, X, y)
    expected = np.stack([ref.choose(X[i], signs[i]) for i in range(len(X))])
    chosen = expected != X
    assert chosen.any(axis=1).mean() > 0.2
    assert np.all((res.X_adv == expected) | (res.X_adv == X)), "a value is neither the choice nor the old one"
    assert np.array_equal(res.X_adv[0], expected[0])
    # the whole outcome: the choices applied in event order, each feature's move re-checked
    # against the per-move limits on the set as it is just before its event (reference engine)
    d = X.shape[1]
    for i in range(len(X)):
        x, x_new = ref.X[i].copy(), expected[i].copy()
        if params.use_no_change:
            old_bins = ref.hist.bins(x[:, None])[:, 0]
            e, A, B, E = ref.pearson.event_terms(x)
            for j in np.flatnonzero(x_new != x):
                alone = np.where(np.arange(d) == j, x_new, x)
                jsd = ref.hist.candidate_jsd(old_bins, ref.hist.bins(alone[:, None]))[j, 0]
                D = np.zeros((d, 1))
                D[j, 0] = x_new[j] - x[j]
                fn = ref.pearson.candidate_frobenius(D, e, A, B, E)[j, 0]
                if not (jsd <= params.max_jsd_single_change and fn <= params.max_frob_single_change):
                    x_new[j] = x[j]
        ref.apply(i, x_new)
    assert np.array_equal(res.X_adv, ref.X), f"{(res.X_adv != ref.X).sum()} values differ from applying the choices"
    kept = (res.X_adv == expected)[chosen].mean()
    if not params.use_no_change:
        assert np.array_equal(res.X_adv, expected), "without use_no_change every chosen move is applied"
    h = res.history[0]  # the batched mode's time split: the GPU's choice, then the host's apply step
    assert h["gpu_wait_seconds"] > 0 and h["host_apply_seconds"] > 0
    assert h["gpu_wait_seconds"] + h["host_apply_seconds"] <= h["visit_seconds"]
    return kept


# The calibrated constraints (constraints: calibrated) on the exact mode's calibrated kernel: a grid
# and a random mode with jitter, 30 bootstrap resamples, loose enough quantile and z to move events.
CALIBRATED_MODES = {
    "grid": {"min_change": 0.01, "step": 0.01},
    "random-jitter": {"min_change": 0.01, "num_candidates": 20, "randomize_step": True, "random_step_frac": 0.3},
}


def calibrated_problem(n: int, d: int, seed: int, **extra):
    model, X, y, _ = problem(n, d, seed)
    params = AttackParams(**{**dict(n_iterations=2, num_bins=10, alpha=4.0, beta=1.0, seed=seed,
                                    constraints="calibrated", calibration_resamples=30, calibration_quantile=0.9,
                                    calibration_z=2.0), **extra})
    return model, X, y, params


# a grid long enough (hundreds of candidates per feature) for the kernels' block pruning to run
PRUNED = {"min_change": 0.002, "step": 0.004}


def count_pruning(run):
    """``run()`` with the simulator's calls of the Frobenius lower bound counted: (calls, how many
    cleared the FN limit, i.e. skipped a block). Simulator only (device functions are Python)."""
    bound, seen = cuda_engine._frob_lower_bound, {"calls": 0, "skips": 0, "limit": None}

    def counted(s, a1, a2, e_j, Sjj, A_j, E_j, n):
        v = bound(s, a1, a2, e_j, Sjj, A_j, E_j, n)
        seen["calls"] += 1
        seen["skips"] += int(v > seen["limit"])
        return v

    cuda_engine._frob_lower_bound = counted
    try:
        return run(seen)
    finally:
        cuda_engine._frob_lower_bound = bound


def main() -> int:
    for name, extra in MODES.items():
        moved = check_exact_matches_cpu(*problem(16, 2, seed=1, **extra))
        print(f"exact {name}: identical to the cpu engine ({moved:.0%} of events moved)", flush=True)
    for name, extra in (("grid-pruned", PRUNED),):
        case = problem(10, 3, seed=5, **extra)

        def run(seen):
            seen["limit"] = case[3].max_frob_single_change * (1 + 1e-6)
            return check_exact_matches_cpu(*case), seen["calls"], seen["skips"]

        moved, calls, skips = count_pruning(run)
        assert skips > 0, f"{name}: no block was pruned ({calls} bound evaluations), the case checks no pruning"
        print(f"exact {name}: identical to the cpu engine ({moved:.0%} of events moved, {calls} bound "
              f"evaluations, {skips} pruned)", flush=True)
    for name, extra in CALIBRATED_MODES.items():
        moved = check_exact_matches_cpu(*calibrated_problem(16, 3, seed=3, **extra))
        print(f"calibrated {name}: identical to the cpu engine ({moved:.0%} of events moved)", flush=True)
    # the second case is crowded (many events, tight limits), so applying in order drops moves
    for crowded, case in ((False, problem(12, 2, seed=2)), (True, problem(BATCH_N, 2, seed=2, **BATCH_CROWDED))):
        kept = check_batched_semantics(*case)
        assert kept < 1.0 or not crowded, "the crowded case must drop moves, or it checks nothing of the sort"
        print(f"batched: moves are the reference choices against the batch's statistics, applied in order "
              f"({kept:.0%} kept)", flush=True)
    check_bench_rows_on_cuda()
    print("bench: the --device cuda rows (cpu, cuda, cuda-batch, calibrated-cpu, calibrated-cuda) with their "
          "deviation fields", flush=True)
    return 0


def check_bench_rows_on_cuda():
    """The benchmark's ``--device cuda`` path end to end on a tiny case (the rows a GPU session
    records; its timings mean nothing in the simulator)."""
    rows = bench.run("donut", 12, ["cpu", "cuda", "calibrated"], device="cuda", iterations=1, batches=[6],
                     allow_simulator=True)
    assert [r["engine"] for r in rows] == ["cpu", "cuda", "cuda-batch", "calibrated-cpu", "calibrated-cuda"]
    exact, batched, calibrated = rows[1], rows[2], rows[4]
    assert exact["identical_values"] == 1.0 and exact["dev_fooling_ratio"] == 0.0
    assert calibrated["identical_values"] == 1.0 and calibrated["speedup_vs_calibrated_cpu"] > 0
    assert batched["batch_events"] == 6 and batched["batch_registers"] == cuda_engine.BATCH_REGISTERS
    assert {"dev_jsd_mean", "dev_relative_fn", "gpu_wait_seconds", "host_apply_seconds", "speedup_vs_cpu"} <= set(batched)


if __name__ == "__main__":
    sys.exit(main())
