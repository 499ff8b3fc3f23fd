"""The size-scaling study in the workflow (workflow/rules/scaling.smk): a small Donut run through the
target ``scaling`` (one job per rule configuration and size; a changed size re-runs its own jobs
only), and the Higgs stand-in, kept apart from the real-data results and labelled in every output."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from conservattack.data.standin import SOURCE_EVENT
from paths import SHARED
from snakemake_helpers import copy_workflow, planned_jobs, smk

pytestmark = pytest.mark.slow

LOOSE = {"min_change": 0.002, "step": 0.004, "n_iterations": 2, "num_bins": 20, "alpha": 4.0, "beta": 1.0,
         "max_jsd_single_change": 0.05, "max_frob_single_change": 0.01}


def test_donut_scaling_through_the_target(tmp_path):
    wd = copy_workflow(tmp_path)
    cfg = {"donut": {"scaling": {"enabled": True, "sizes": [40, 80, 120, 160, "all"], "n_chunks": [1, 2],
                                 "attack": {"target": "correct_background", "params": LOOSE}}}}
    (wd / "scaling.yaml").write_text(yaml.safe_dump(cfg))
    args = ("scaling", "--configfile", ".test/config.yaml", "scaling.yaml")
    jobs = planned_jobs(wd, *args)
    assert jobs == {"prepare_donut": 1, "train_classifier": 1, "scaling_data": 1, "scaling_attack": 15,
                    "scaling_table": 1, "plot_scaling": 1, "scaling": 1}
    smk(wd, *args)
    folder = wd / "results" / "donut" / "scaling"
    meta = json.loads((folder / "attacked.json").read_text())
    n = meta["n_attacked"]
    assert 160 < n < 600 and not meta["standin"]
    table = pd.read_csv(folder / "scaling.csv")
    assert table["config"].tolist() == ["exact"] * 5 + ["reference_c1"] * 5 + ["reference_c2"] * 5
    assert table["size"].tolist() == [40, 80, 120, 160, n] * 3 and not table["standin"].any()
    assert table["fooling_ratio"].between(0, 1).all() and (table["seconds"] > 0).all()
    attacked = pd.read_parquet(folder / "attacked.parquet")
    assert len(attacked) == n and (attacked["label"] == 0).all()  # the targeted background, in one order
    one = json.loads((folder / "attacks" / "reference_c2" / "n80.json").read_text())
    assert one["size"] == 80 and one["params"]["rule"] == "reference" and one["params"]["n_chunks"] == 2
    assert one["params"]["n_iterations"] == 2 and "versions" in one
    assert (folder / "figures" / "scaling.pdf").stat().st_size > 1000
    # another size re-runs that size's attacks only (and the table and figure); a chunk count left
    # out runs nothing
    cfg["donut"]["scaling"]["sizes"] = [40, 80, 100, 160, "all"]
    cfg["donut"]["scaling"]["n_chunks"] = [2]
    (wd / "scaling.yaml").write_text(yaml.safe_dump(cfg))
    assert planned_jobs(wd, *args) == {"scaling_attack": 2, "scaling_table": 1, "plot_scaling": 1, "scaling": 1}
    # a size above the attacked set, once it is known, stops before any job, naming the key
    cfg["donut"]["scaling"]["sizes"] = [40, 80, 100, 160, 500]  # the test split holds 600
    (wd / "scaling.yaml").write_text(yaml.safe_dump(cfg))
    proc = smk(wd, "-n", *args, check=False)
    assert proc.returncode != 0
    assert f"config donut.scaling.sizes: size 500 is larger than the attacked set ({n} events" in proc.stdout + proc.stderr


@pytest.mark.skipif(not (SHARED / "data/higgs-atlas-22889").is_dir(),
                    reason="the real Higgs sample (../shared/data/higgs-atlas-22889) is absent")
def test_higgs_stand_in_is_apart_and_labelled(tmp_path):
    wd = copy_workflow(tmp_path)
    cfg = {"datasets": ["higgs"], "higgs": {
        "local_files": str(SHARED / "data/higgs-atlas-22889"),
        "scaling": {"enabled": True, "data": "stand-in", "stand_in": {"events": 6000},
                    "sizes": [50, 100, 150, 200, 300], "n_chunks": [4],
                    "training": {"max_epochs": 3, "patience": 2},
                    "attack": {"target": "correct", "params": {**LOOSE, "n_iterations": 1}}}}}
    (wd / "standin.yaml").write_text(yaml.safe_dump(cfg))
    smk(wd, "scaling", "--configfile", "standin.yaml")
    higgs = wd / "results" / "higgs"
    assert sorted(p.name for p in higgs.iterdir()) == ["logs", "scaling_stand-in"]  # no real-data result
    folder = higgs / "scaling_stand-in"
    table = pd.read_csv(folder / "scaling_stand-in.csv")
    assert len(table) == 10 and table["standin"].all() and table["data"].str.startswith("stand-in: ").all()
    assert (folder / "figures" / "scaling_stand-in.png").stat().st_size > 1000
    data = json.loads((folder / "data" / "data.json").read_text())
    assert data["standin"] and sum(c["events"] for c in data["counts"].values()) == 6000
    train = pd.read_parquet(folder / "data" / "train.parquet")
    attacked = pd.read_parquet(folder / "attacked.parquet")
    assert not set(attacked[SOURCE_EVENT]) & set(train[SOURCE_EVENT])  # no test event copied into training
    meta = json.loads((folder / "attacked.json").read_text())
    assert meta["standin"] and "stand-in" in meta["model"]
