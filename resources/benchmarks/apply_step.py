"""Time of the batched GPU mode's host step alone: ``attacks.engines.cpu.apply_chosen`` per event, on the CPU.

    python resources/benchmarks/apply_step.py [--case higgs] [--n 250000] [--repeat 3]

The moves are the cpu engine's of one attack iteration on the benchmark's synthetic set
(``conservattack.bench.engines``), applied to the clean set's statistics in event order, with the per-move
limits re-checked (``use_no_change``) as the batched mode does. Prints one JSON object per repeat:
us_per_event, the fraction of moved values kept, and the values that differ from the cpu engine's
result (the moves were chosen against other statistics, so some are dropped).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "lib"))

from conservattack.attacks.engines import cpu as kernels  # noqa: E402
from conservattack.attacks.engines import structs  # noqa: E402
from conservattack.attacks.state import AttackState  # noqa: E402
from conservattack.bench.engines import CASES, problem  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=sorted(CASES), default="higgs")
    ap.add_argument("--n", type=int, default=250_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    params, X, model, y = problem(args.case, args.n, args.seed, iterations=1)
    d = X.shape[1]
    none = np.zeros(len(X), bool)
    moved = AttackState(model, X.copy(), y, none, params, engine="cpu")
    moved.iterate(1, progress=False)
    X_moves = moved.X
    events = np.arange(len(X), dtype=np.int64)
    for repeat in range(args.repeat + 1):  # the first run compiles
        state = AttackState(model, X.copy(), y, none, params, engine="cpu")
        hist, cm, rule = structs.histograms(state.hist), structs.comoments(state.pearson), structs.rule(params)
        t0 = time.perf_counter()
        kernels.apply_chosen(state.X, events, X_moves, hist, cm, rule)
        seconds = time.perf_counter() - t0
        if repeat:
            changed = X_moves != X
            print(json.dumps({"case": args.case, "n": args.n, "d": d, "repeat": repeat, "seconds": seconds,
                              "us_per_event": seconds / len(X) * 1e6,
                              "moved_values_kept": float((state.X == X_moves)[changed].mean()),
                              "values_unlike_cpu_engine": float((state.X != X_moves).mean())}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
