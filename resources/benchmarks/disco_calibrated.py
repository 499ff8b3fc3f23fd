"""The DisCo study's attacks again under calibrated constraints, beside their per-move results.

    .venv/bin/python resources/benchmarks/disco_calibrated.py [RESULTS] [--runs 0,1,2] [--dcor-sigma bootstrap]

Reads what study 9 of a finished run wrote (default ``results/higgs``: the fixed test subset, the
scaler, each run's model and its attack records ``disco/disco/run<r>/attack_attack.json`` and
``disco/pearson/run<r>/attack_detector_test.json``), and attacks the same events with the same
parameters and seed under ``constraints: calibrated`` (the per-move limits dropped): the DisCo
attack (dCor budgets from the jackknife) and the limited-data Pearson attack (bootstrap budgets).
That is what ``<dataset>.disco.attack.params.constraints: calibrated`` (and ``pearson_attack``)
run in the workflow. Prints one JSON line per run and method: the per-move and the calibrated
fooling ratio, relative FN, largest JSD, the budget ratios and the seconds. ``--dcor-sigma``:
``calibration_dcor_sigma`` of the DisCo attacks (default jackknife).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "lib"))

from conservattack.attacks.api import attack  # noqa: E402
from conservattack.attacks.params import PER_MOVE_LIMITS, AttackParams  # noqa: E402
from conservattack.pipeline.attack_inputs import load_attack_inputs  # noqa: E402

RECORDS = {"disco": "attack_attack.json", "pearson": "attack_detector_test.json"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", default="results/higgs", help="a dataset's results folder")
    ap.add_argument("--runs", default="0,1,2", help="comma-separated runs")
    ap.add_argument("--dcor-sigma", default="jackknife", choices=["jackknife", "bootstrap"],
                    help="calibration_dcor_sigma of the DisCo attacks")
    args = ap.parse_args(argv)
    base = Path(args.results)
    for run in (int(r) for r in args.runs.split(",")):
        for method, record in RECORDS.items():
            meta = json.loads((base / "disco" / method / f"run{run}" / record).read_text())
            cfg = meta["config"]["attack"]
            inp = load_attack_inputs(base / "disco" / "test_subset.parquet", base / "data" / "scaler.json",
                                     base / "runs" / f"run{run}" / "model.pt", cfg["target"])
            params = {k: v for k, v in cfg["params"].items() if k not in PER_MOVE_LIMITS}
            sigma = {"calibration_dcor_sigma": args.dcor_sigma} if method == "disco" else {}
            p = AttackParams.from_config({**params, "constraints": "calibrated", **sigma}, seed=meta["config"]["seed"])
            t0 = time.perf_counter()
            r = attack(inp.model, inp.X[inp.targets], inp.y[inp.targets], p, progress=False)
            h, per_move = r.history[-1], meta["final"]
            print(json.dumps({
                "run": run, "method": method, "n_targeted": int(inp.targets.sum()),
                "per_move_fooling_ratio": per_move["fooling_ratio"], "per_move_relative_fn": per_move["relative_fn"],
                "per_move_jsd_max": per_move["jsd_max"], "calibrated_fooling_ratio": h["fooling_ratio"],
                "relative_fn": h["relative_fn"], "jsd_mean": h["jsd_mean"], "jsd_max": h["jsd_max"],
                "jsd_budget_ratio_max": h["jsd_budget_ratio_max"], "corr_budget_ratio_max": h["corr_budget_ratio_max"],
                "sigma_method": r.budgets["sigma_method"], "calibration_seconds": r.budgets["seconds"],
                "seconds": time.perf_counter() - t0}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
