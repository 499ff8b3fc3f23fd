"""Study 9 in the workflow (distance correlation with limited data): a small Donut configuration
with only the attack and the DisCo study, end to end."""

from __future__ import annotations

import ast
import json
import re

import pandas as pd
import pytest
import yaml

from conservattack.studies.detection import operating_point
from conservattack.attacks.inference import predict_proba
from conservattack.models.mlp import load_model
from conservattack.studies.paper import DISCO_METRICS, DISCO_PREFIXES
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.report import ReportNumbers
from conservattack.data.tables import split_adversaries
from snakemake_helpers import copy_workflow, planned_jobs, smk

pytestmark = pytest.mark.slow

LOOSE = {"min_change": 0.01, "step": 0.05, "n_iterations": 2, "num_bins": 20, "alpha": 4.0, "beta": 1.0,
         "max_jsd_single_change": 0.1, "max_frob_single_change": 0.02, "use_no_change": True}


def test_disco_study_on_a_small_donut(tmp_path):
    wd = copy_workflow(tmp_path)
    training = {"max_epochs": 15, "patience": 5, "batch_size": 64}
    # on top of the small test configuration: only the attack study and study 9
    cfg = {"donut": {
        "detector": {"enabled": False}, "augmentation": {"enabled": False},
        "adversarial_training": {"enabled": False},
        "disco": {"enabled": True, "runs": 2, "train_events": 400, "test_events": 200,
                  "training_fractions": [0.5, 1.0], "training": training,
                  "attack": {"target": "correct", "params": LOOSE},
                  "detector_train_attack": {"target": "correct", "params": LOOSE},
                  "detector_test_attack": {"target": "correct", "params": LOOSE},
                  "pearson_attack": {"target": "correct", "params": LOOSE}}}}
    (wd / "disco.yaml").write_text(yaml.safe_dump(cfg))
    configs = ("--configfile", ".test/config.yaml", "disco.yaml")
    jobs = planned_jobs(wd, *configs)
    assert jobs["disco_attack"] == 2 * 3 + 2 * 2 and jobs["disco_detector"] == 4 and jobs["disco_subset"] == 2
    assert "train_detector" not in jobs and "augmentation_attack" not in jobs
    smk(wd, *configs)
    d = wd / "results" / "donut"
    assert len(pd.read_parquet(d / "disco" / "train_subset.parquet")) == 400
    per_run = pd.read_csv(d / "disco" / "metrics_per_run.csv")
    assert list(zip(per_run.method, per_run.run)) == [("disco", 0), ("disco", 1), ("pearson", 0), ("pearson", 1)]
    assert per_run.detector_auroc.between(0, 1).all()
    assert (per_run.corrected_fooling_ratio <= per_run.detector_test_fooling_ratio).all()
    # its fooling ratios per method beside the attack study's in summary.csv
    rows = pd.read_csv(d / "summary.csv").set_index("metric")
    for method, prefix in DISCO_PREFIXES.items():
        mine = per_run[per_run.method == method]
        for metric in DISCO_METRICS[method]:
            row = rows.loc[f"{prefix}_{metric}"]
            assert row.ours_mean == pytest.approx(mine[metric].mean(), rel=1e-5) and row.n_runs == 2
    summary = json.loads((d / "disco" / "summary.json").read_text())
    assert set(summary["methods"]) == {"disco", "pearson"} and "numba" in summary["versions"]
    assert summary["config"]["disco"]["runs"] == 2
    meta = json.loads((d / "disco" / "disco" / "run0" / "attack_attack.json").read_text())
    assert meta["params"]["use_disco"] is True and "relative_fn_pearson" in meta["final"]
    assert meta["final"]["relative_fn"] == pytest.approx(
        per_run.set_index(["method", "run"]).loc[("disco", 0), "relative_fn_dcor"], abs=1e-9)
    pearson = json.loads((d / "disco" / "pearson" / "run0" / "attack_detector_test.json").read_text())
    assert pearson["params"]["use_disco"] is False and pearson["params"]["n_iterations"] == 2
    sizes = pd.read_csv(d / "disco" / "auroc_vs_size.csv")
    assert len(sizes) == 2 * 2 * 2 and (sizes.groupby(["method", "run"]).n_clean.nunique() == 2).all()
    for fig in ("disco_matrices", "disco_marginals", "disco_auroc_vs_size", "disco_vs_pearson"):
        assert (d / "figures" / f"{fig}.pdf").stat().st_size > 1000
        # the caption's per-method means name columns the study writes (unknown ones raise)
        call = re.search(r"numbers\.means\((.*)\) \}\}", (wd / "workflow" / "report" / f"{fig}.rst").read_text())
        relpath, by, columns = ast.literal_eval(f"({call.group(1)})")
        lines = ReportNumbers("donut", str(wd / "results")).means(relpath, by, columns).splitlines()
        assert len(lines) == 2 and all(line.count("``") == 2 * len(columns) for line in lines), lines
    # a new threshold re-evaluates the detectors; it neither retrains nor re-attacks
    cfg["donut"]["disco"]["threshold"] = 0.7
    (wd / "disco.yaml").write_text(yaml.safe_dump(cfg))
    jobs = planned_jobs(wd, *configs)
    assert jobs.get("disco_metrics") == 1 and not {"disco_detector", "disco_attack", "attack"} & set(jobs), jobs
    smk(wd, *configs)
    stricter = pd.read_csv(d / "disco" / "metrics_per_run.csv")
    assert (stricter.detector_efficiency_clean != per_run.detector_efficiency_clean).any()  # it did change
    assert stricter.detector_auroc.tolist() == per_run.detector_auroc.tolist()
    features = MinMaxScaler.load(d / "data" / "scaler.json").features
    clean = pd.read_parquet(d / "disco" / "test_subset.parquet")[list(features)].to_numpy(float)
    for row in stricter.itertuples():  # the numbers of each saved detector at the new threshold
        detector = load_model(d / "disco" / row.method / f"run{row.run}" / "detector.pt")
        _, X_adv, _, fooled = split_adversaries(
            pd.read_parquet(d / "disco" / row.method / f"run{row.run}" / "adversaries_detector_test.parquet"), features)
        expected = operating_point(fooled, predict_proba(detector, X_adv), predict_proba(detector, clean), 0.7)
        assert {k: getattr(row, k) for k in expected} == pytest.approx(expected, nan_ok=True)
    # the study is off by default
    assert "disco_attack" not in planned_jobs(wd, "--configfile", ".test/config.yaml")
