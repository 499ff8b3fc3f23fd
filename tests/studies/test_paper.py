"""The paper's numbers beside ours (conservattack.studies.paper.summary_table), and its attack parameter
rows (PAPER_PARAMETERS), which the config schema's defaults must be."""

import numpy as np
import pandas as pd
import pytest

from conservattack.studies.detection import acceptance_curve, repeated_misclassification
from conservattack.studies.paper import (PAPER_NUMBERS, detector_extras, disco_per_run, merge_runs, real_vs_simulated_per_run, summary_table)


def test_summary_table_statistics_and_undefined_runs():
    per_run = pd.DataFrame({"run": [0, 1, 2], "fooling_ratio": [0.2, 0.4, 0.6],
                            "detector_efficiency_adversarial": [0.9, np.nan, 0.7], "never": [np.nan] * 3})
    table = summary_table("donut", per_run).set_index("metric")
    fr = table.loc["fooling_ratio"]
    assert (fr.ours_mean, fr.ours_min, fr.ours_max, fr.n_runs) == (pytest.approx(0.4), 0.2, 0.6, 3)
    assert fr.ours_std == pytest.approx(0.2)
    eff = table.loc["detector_efficiency_adversarial"]  # the run without fooled adversaries is left out
    assert eff.ours_mean == pytest.approx(0.8) and eff.n_runs == 2 and eff.ours_std == pytest.approx(np.std([0.9, 0.7], ddof=1))
    assert np.isnan(table.loc["never", "ours_mean"]) and table.loc["never", "n_runs"] == 0
    for metric in PAPER_NUMBERS["donut"]:  # every paper number has a row, computed or not
        assert metric in table.index


def test_a_study_with_fewer_runs_leaves_the_others_runs_in():
    attack = pd.DataFrame({"run": [0, 1, 2], "fooling_ratio": [0.2, 0.4, 0.6]})
    disco = pd.DataFrame({"run": [1, 0], "disco_fooling_ratio": [0.1, 0.3]})  # the study's first two runs
    merged = merge_runs(attack, None, disco)
    assert list(merged.run) == [0, 1, 2] and list(merged.fooling_ratio) == [0.2, 0.4, 0.6]
    assert merged.disco_fooling_ratio.tolist()[:2] == [0.3, 0.1] and np.isnan(merged.disco_fooling_ratio[2])
    table = summary_table("higgs", merged).set_index("metric")
    assert table.loc["fooling_ratio", "n_runs"] == 3 and table.loc["disco_fooling_ratio", "n_runs"] == 2
    assert table.loc["disco_fooling_ratio", "ours_mean"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="fooling_ratio"):  # one metric, two studies
        merge_runs(attack, attack)


def test_disco_rows_per_method():
    rows = [{"method": m, "run": r, "fooling_ratio": fr, "detector_test_fooling_ratio": fr / 2,
             "corrected_fooling_ratio": fr / 4, "detector_auroc": 0.5}
            for m, base in (("disco", 0.1), ("pearson", 0.8)) for r, fr in ((0, base), (1, base + 0.02))]
    wide = disco_per_run(pd.DataFrame(rows))
    assert list(wide.columns) == ["run", "disco_fooling_ratio", "disco_detector_test_fooling_ratio",
                                  "disco_corrected_fooling_ratio",
                                  "pearson_limited_detector_test_fooling_ratio",
                                  "pearson_limited_corrected_fooling_ratio"]
    assert wide.pearson_limited_detector_test_fooling_ratio.tolist() == pytest.approx([0.4, 0.41])
    assert wide.disco_corrected_fooling_ratio.tolist() == pytest.approx([0.025, 0.03])
    one_run = disco_per_run(pd.DataFrame(rows).query("method == 'pearson' or run == 0"))  # disco: run 0 only
    assert one_run.run.tolist() == [0, 1] and np.isnan(one_run.disco_fooling_ratio[1])
    table = summary_table("higgs", wide).set_index("metric")
    assert "DisCo initial FR lower" in table.loc["disco_detector_test_fooling_ratio", "paper_statement"]
    with pytest.raises(ValueError, match="unknown method"):
        disco_per_run(pd.DataFrame(rows).replace({"method": {"pearson": "spearman"}}))


def test_real_data_and_repeated_misclassification_rows():
    comparison = pd.DataFrame({"run": [0, 1], "rate_real": [0.25, 0.15], "rate_sim": [0.2, 0.1],
                               "consistent": [True, False]})
    real = real_vs_simulated_per_run(comparison)
    assert list(real.columns) == ["run", "detector_efficiency_clean_real", "real_vs_simulated_consistent"]
    assert real.detector_efficiency_clean_real.tolist() == pytest.approx([0.75, 0.85])
    assert real.real_vs_simulated_consistent.tolist() == [1.0, 0.0]
    assert real_vs_simulated_per_run(comparison.iloc[:0]) is None  # no real data configured
    rng = np.random.default_rng(0)
    flags = rng.random((3, 500)) < 0.3
    repeated = repeated_misclassification(flags)
    thresholds = np.linspace(0.0, 1.0, 101)
    sim, real_scores = [rng.random(400) for _ in range(3)], [rng.random(300) ** 0.5 for _ in range(3)]
    acceptance = pd.concat([acceptance_curve(sim, thresholds).assign(sample="simulated"),
                            acceptance_curve(real_scores, thresholds).assign(sample="real")])
    extras = detector_extras(repeated, acceptance)
    assert [extras[f"repeated_misclassification_p_k{k}"] for k in range(4)] == pytest.approx(list(repeated.p_value))
    assert [extras[f"repeated_misclassification_z_k{k}"] for k in range(4)] == pytest.approx(list(repeated.z_value))
    assert extras["clean_acceptance_simulated_at_0.8"] == pytest.approx(np.mean([(s >= 0.8).mean() for s in sim]))
    assert extras["clean_acceptance_real_at_0.8"] == pytest.approx(np.mean([(s >= 0.8).mean() for s in real_scores]))
    with pytest.raises(ValueError, match="threshold 0.8"):  # a curve that skips the reported threshold
        detector_extras(repeated, acceptance_curve(sim, np.linspace(0.05, 0.95, 10)).assign(sample="simulated"))
    table = summary_table("ttww", real, extras).set_index("metric")
    assert table.loc["clean_acceptance_real_at_0.8", "paper"] == pytest.approx(0.8)
    assert "k = 3" in table.loc["repeated_misclassification_p_k3", "paper_statement"]
    assert table.loc["real_vs_simulated_consistent", "ours_mean"] == pytest.approx(0.5)


def test_report_lines_for_every_metric_of_a_prefix(tmp_path):
    from conservattack.pipeline.report import ReportNumbers

    d = tmp_path / "ttww"
    d.mkdir()
    extras = {"repeated_misclassification_p_k0": 1e-4, "repeated_misclassification_p_k1": 0.5}
    summary_table("ttww", pd.DataFrame({"run": [0, 1]}), extras).to_csv(d / "summary.csv", index=False)
    lines = ReportNumbers("ttww", str(tmp_path)).rst_matching("repeated_misclassification_p_k").splitlines()
    # ours for k = 0, 1, then the paper's k = 2, 3, 4 that this configuration did not compute
    assert [line.split("``")[1] for line in lines] == [f"repeated_misclassification_p_k{k}" for k in range(5)]
    assert "0.5" in lines[1] and "not computed" in lines[2] and "k = 2 of 10" in lines[2]
    assert "not computed" in ReportNumbers("ttww", str(tmp_path)).rst_matching("no_such_")


# Where the config schema's per-dataset defaults use the paper's rows (PAPER_PARAMETERS), and the
# places where the project chose a row of another study (the Donut row for the analyst toolkit
# and the Donut augmentation; docs/method.md section 6).
SCHEMA_ROWS = {
    ("donut", "attack"): "donut_attack",
    ("donut", "detector", "attack"): "donut_detector",
    ("donut", "augmentation", "attack"): "donut_attack",
    ("higgs", "attack"): "higgs_attack",
    ("higgs", "augmentation", "attack"): "higgs_augmentation",
    ("higgs", "detector", "attack"): "higgs_detector",
    ("higgs", "adversarial_training", "test_attack"): "higgs_adversarial_training_test",
    ("higgs", "adversarial_training", "train_attack"): "higgs_adversarial_training_train",
    ("ttww", "attack"): "ttww_attack",
    ("ttww", "augmentation", "attack"): "ttww_augmentation",
    ("ttww", "detector", "attack"): "ttww_detector",
    ("ttww", "adversarial_training", "test_attack"): "ttww_adversarial_training_test",
    ("ttww", "adversarial_training", "train_attack"): "ttww_adversarial_training_train",
    ("custom", "attack"): "donut_attack",
    ("custom", "detector", "attack"): "donut_detector",
    ("$defs", "disco", "attack"): "higgs_disco_attack",
    ("$defs", "disco", "detector_train_attack"): "higgs_disco_detector_train",
    ("$defs", "disco", "detector_test_attack"): "higgs_disco_detector_test",
    ("$defs", "disco", "pearson_attack"): "higgs_limited_pearson",
}


def _schema_default(schema, path):
    if path[0] == "$defs":
        return schema["$defs"][path[1]]["properties"][path[2]]["default"]
    node = schema["properties"][path[0]]["properties"][path[1]]["default"]
    for key in path[2:]:
        node = node[key]
    return node


@pytest.mark.parametrize("path, row", SCHEMA_ROWS.items(), ids=lambda v: ".".join(v) if isinstance(v, tuple) else v)
def test_schema_defaults_are_the_papers_rows(path, row):
    import yaml

    from conservattack.studies.paper import PAPER_PARAMETERS
    from paths import ROOT

    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert _schema_default(schema, path)["params"] == PAPER_PARAMETERS[row]


def test_every_paper_row_is_a_valid_attack():
    from conservattack.attacks.params import AttackParams
    from conservattack.studies.paper import PAPER_PARAMETERS

    for name, row in PAPER_PARAMETERS.items():
        if not any(isinstance(v, list) for v in row.values()):
            AttackParams(**row)
    assert {row for row in SCHEMA_ROWS.values()} == set(PAPER_PARAMETERS)
