"""The analyst toolkit end to end (docs/method.md, study 10): the shipped example (resources/example/, config
resources/configs/custom_example.yaml) through attack, detector, corrected fooling ratio, verdict
and report with the user's TorchScript model (and its torch.export copy); bad inputs stop with a
clear message and leave no output behind."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
import yaml

from conservattack.models.exported import is_exported_program
from conservattack.attacks.inference import logit_head
from conservattack.models.mlp import is_torchscript, load_model
from snakemake_helpers import copy_workflow, planned_jobs, smk

pytestmark = pytest.mark.slow
EXAMPLE = "resources/configs/custom_example.yaml"


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    wd = copy_workflow(tmp_path_factory.mktemp("custom"))
    cfg = yaml.safe_load((wd / EXAMPLE).read_text())
    cfg["custom"]["runs"] = 2
    (wd / "example.yaml").write_text(yaml.safe_dump(cfg))
    smk(wd, "--configfile", "example.yaml")
    return wd


def test_example_runs_attack_detector_and_verdict_with_the_users_model(example_run):
    d = example_run / "results" / "custom"
    jobs = planned_jobs(example_run, "--configfile", "example.yaml", "--forceall")
    assert jobs["import_model"] == 2 and "train_classifier" not in jobs and jobs["prepare_custom"] == 1
    for r in (0, 1):  # each run's slot holds the user's model behind the scaling
        assert is_torchscript(d / "runs" / f"run{r}" / "model.pt")
    test = pd.read_parquet(d / "data" / "test.parquet")
    assert list(test.columns[:2]) == ["px", "py"] and test[["px", "py"]].to_numpy().min() >= 0
    user = torch.jit.load(str(example_run / "resources/example/model.pt"))
    raw = pd.read_csv(example_run / "resources/example/events.csv")
    events = raw.iloc[test.event.to_numpy()]
    with torch.no_grad():
        p_user = user(torch.tensor(events[["px", "py"]].to_numpy(), dtype=torch.float32)).numpy().ravel()
        p_slot = load_model(d / "runs/run0/model.pt")(torch.tensor(test[["px", "py"]].to_numpy(),
                                                                    dtype=torch.float32)).numpy().ravel()
    assert abs(p_user - p_slot).max() < 1e-4  # the wrapper unscales exactly
    summary = pd.read_csv(d / "summary.csv").set_index("metric")
    assert 0 < summary.loc["fooling_ratio", "ours_mean"] < 1
    assert summary.loc["corrected_fooling_ratio", "ours_mean"] <= summary.loc["initial_fooling_ratio", "ours_mean"]
    verdict = (d / "verdict.md").read_text()
    assert "Corrected fooling ratio" in verdict and "Real vs simulated clean events flagged" in verdict
    assert (pd.read_csv(d / "detector" / "real_vs_simulated.csv").n_real == 2000).all()
    assert (d / "figures" / "clean_acceptance.png").stat().st_size > 1000
    smk(example_run, "--configfile", "example.yaml", "--report", "report.html")
    html = (example_run / "report.html").read_text()
    assert "5-7. Adversarial detector" in html and "Detector clean acceptance versus threshold (dataset" in html
    assert "results/custom/summary.csv (ours: mean, std, min, max over runs" in html


def test_the_example_model_saved_with_torch_export_gives_the_same_attack(example_run, tmp_path):
    """resources/example/model.pt2 is model.pt saved with torch.export: its run slot is an exported
    program and run 0's attack is the same to the bit (the logit is found in the exported graph)."""
    wd = copy_workflow(tmp_path)
    cfg = yaml.safe_load((wd / EXAMPLE).read_text())
    cfg["custom"]["runs"] = 2
    cfg["custom"]["model"]["path"] = "resources/example/model.pt2"
    (wd / "pt2.yaml").write_text(yaml.safe_dump(cfg))
    adversaries = "results/custom/runs/run0/attack/adversaries.parquet"
    smk(wd, adversaries, "--configfile", "pt2.yaml")  # --configfile takes every name after it
    assert is_exported_program(wd / "results/custom/runs/run0/model.pt")
    assert logit_head(load_model(wd / "results/custom/runs/run0/model.pt")) is not None
    pd.testing.assert_frame_equal(pd.read_parquet(wd / adversaries), pd.read_parquet(example_run / adversaries))


def test_changing_axis_units_redraws_figures_only(example_run):
    """custom.data.units label the figures' axes: changing them re-runs plots, not the data,
    training or attacks (the data rule's params leave them out)."""
    cfg = yaml.safe_load((example_run / "example.yaml").read_text())
    cfg["custom"]["data"]["units"] = {"px": "MeV", "py": "MeV"}
    (example_run / "units.yaml").write_text(yaml.safe_dump(cfg))
    jobs = planned_jobs(example_run, "--configfile", "units.yaml")
    # (and the record of the configuration, results/custom/config.yaml, which holds the units too)
    assert jobs and all(rule.startswith("plot_") or rule in ("all", "summary", "verdict", "record_config")
                        for rule in jobs), jobs
    assert "prepare_custom" not in jobs


def edited_example(tmp_path, edit):
    wd = copy_workflow(tmp_path)
    cfg = yaml.safe_load((wd / EXAMPLE).read_text())
    edit(wd, cfg["custom"])
    (wd / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = smk(wd, "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    return wd, proc.stdout + proc.stderr


def test_missing_column_stops_with_file_column_and_columns_present(tmp_path):
    # found when the workflow is parsed, in the events and in the real data: no rule runs
    wd, message = edited_example(tmp_path, lambda wd, c: c["data"].update(features=["px", "pz"]))
    assert ("config custom.data.path: resources/example/events.csv: missing column(s) ['pz']; columns present: "
            "['px', 'py', 'is_signal', 'weight']") in message, message[-3000:]
    assert not (wd / "results" / "custom").exists(), "no partial output"

    def renamed_real_column(wd, c):
        (wd / "real_renamed.csv").write_text((wd / c["real_data"]).read_text().replace("px,py", "px,pyy", 1))
        c["real_data"] = "real_renamed.csv"

    (tmp_path / "real").mkdir()
    wd, message = edited_example(tmp_path / "real", renamed_real_column)
    assert "config custom.real_data: real_renamed.csv: missing column(s) ['py']" in message, message[-3000:]
    assert not (wd / "results" / "custom").exists(), "no partial output"


def test_bad_value_in_real_data_stops_before_any_attack(tmp_path):
    # The real data's values are read by prepare_real_data, which needs the simulation's scaler;
    # it runs as soon as it can (priority), so a NaN there stops the workflow before the attacks.
    wd = copy_workflow(tmp_path)
    cfg = yaml.safe_load((wd / EXAMPLE).read_text())
    lines = (wd / cfg["custom"]["real_data"]).read_text().splitlines()
    lines[5] = "nan," + lines[5].split(",", 1)[1]  # data row 4
    (wd / "real_nan.csv").write_text("\n".join(lines) + "\n")
    cfg["custom"]["real_data"] = "real_nan.csv"
    (wd / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = smk(wd, "--configfile", "bad.yaml", "--cores", "1", check=False)
    message = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "real_nan.csv: column 'px' has 1 NaN or infinite value(s), first at row 4" in message, message[-3000:]
    d = wd / "results" / "custom"
    assert not (d / "data" / "real.parquet").exists(), "no partial output"
    assert not list(d.glob("runs/*/attack*")) and not list(d.glob("runs/*/*adversarial*")), "attacks ran first"


def test_model_with_wrong_output_stops_naming_the_model(tmp_path):
    class PerFeature(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(x)

    def edit(wd, c):
        torch.jit.save(torch.jit.script(PerFeature()), str(wd / "mine.pt"))
        c["model"]["path"] = "mine.pt"
        c["runs"] = 1

    wd, message = edited_example(tmp_path, edit)
    assert "mine.pt: the model fails on 2 features" in message and "expected one probability per event" in message
    assert not (wd / "results/custom/runs/run0/model.pt").exists(), "no partial output"


def test_missing_data_file_stops_before_any_rule(tmp_path):
    wd, message = edited_example(tmp_path, lambda wd, c: c["data"].update(path="nowhere.parquet"))
    assert "config custom.data.path: nowhere.parquet does not exist" in message
    assert not (wd / "results").exists()
