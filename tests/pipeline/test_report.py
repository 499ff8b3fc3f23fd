"""The HTML report (``snakemake --report``): written only with the configuration the results were
made with (results/<dataset>/config.yaml), attack parameters as tables of name, value and
meaning, every metric explained, the paper's numbers cited from docs/method.md section 5.

The captions are rendered here as Snakemake renders them (Jinja, then docutils), without running
the workflow; tests/workflow/test_workflow.py writes the real report of a small run."""

from __future__ import annotations

import copy
import shlex

import jinja2
import numpy as np
import pandas as pd
import pytest
import yaml
from docutils.core import publish_parts
from snakemake.utils import update_config

from conservattack.pipeline.configschema import checked_config
from conservattack.pipeline.report import (ReportNumbers, RunArguments, check_report_config, parameter_table,
                                           read_record, recorded_config, report_requested, rst_table,
                                           write_parameter_table, write_record)
from conservattack.studies.cross_run import grey_box_summary
from conservattack.studies.detection import operating_point
from conservattack.studies.glossary import metric_meaning
from conservattack.studies.paper import (PAPER_NUMBERS, detector_extras, disco_per_run, real_vs_simulated_per_run,
                                         summary_table)
from conservattack.studies.rule_comparison import CALIBRATED_METRICS, SUMMARY_METRICS, comparison_per_run
from paths import ROOT

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
REPORT = ROOT / "workflow" / "report"


def run_config(configfile=None, **extra) -> dict:
    """The checked configuration of ``snakemake [--configfile configfile]``: config.yaml with the
    file merged over it, as Snakemake merges them."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    if configfile is not None:
        update_config(cfg, yaml.safe_load(configfile.read_text()) if hasattr(configfile, "read_text") else configfile)
    update_config(cfg, extra)
    return checked_config(cfg, SCHEMA)


@pytest.mark.parametrize("argv,expected", [
    (["snakemake", "--report", "report.html"], True),
    (["snakemake", "--cores", "2", "--report"], True),
    (["snakemake", "--report=out.html", "--configfile", "x.yaml"], True),
    (["snakemake", "--cores", "2", "--configfile", ".test/config.yaml"], False),
    (["snakemake", "--report", "r.html", "--report-after-run"], False),  # reports on the run it makes
    (["snakemake", "--report-stylesheet", "s.css", "-n"], False),
])
def test_report_requested(argv, expected):
    assert report_requested(argv) is expected


def record(tmp_path, cfg, dataset="donut", arguments="--configfile .test/config.yaml"):
    folder = tmp_path / "results" / dataset
    folder.mkdir(parents=True, exist_ok=True)
    write_record(folder / "config.yaml", recorded_config(cfg, dataset), dataset, arguments)
    return folder / "config.yaml"


def test_the_record_is_a_configuration_that_gives_the_same_checked_configuration(tmp_path):
    small = run_config(ROOT / ".test" / "config.yaml")
    path = record(tmp_path, small)
    recorded, arguments = read_record(path)
    assert arguments == "--configfile .test/config.yaml"
    assert recorded == {"seed": 7, "datasets": ["donut"], "donut": small["donut"]}
    again = run_config(path)  # --configfile results/donut/config.yaml
    assert again["seed"] == small["seed"] and again["donut"] == small["donut"]


def test_report_with_another_configuration_is_refused_naming_the_configfile(tmp_path):
    path = record(tmp_path, run_config(ROOT / ".test" / "config.yaml"))
    default = run_config()
    with pytest.raises(ValueError) as info:
        check_report_config(default, root=tmp_path / "results")
    message = str(info.value)
    assert "snakemake --report report.html --configfile .test/config.yaml" in message
    assert f"--configfile {path}" in message
    assert "first difference: seed is 7 there, 20260313 here" in message
    check_report_config(run_config(ROOT / ".test" / "config.yaml"), root=tmp_path / "results")  # the same: fine
    check_report_config(run_config(path), root=tmp_path / "results")


def test_report_after_a_default_run_names_the_default_configuration(tmp_path):
    record(tmp_path, run_config(), arguments=RunArguments().text())
    with pytest.raises(ValueError, match=r"the default config.yaml: snakemake --report report.html, or --configfile"):
        check_report_config(run_config(ROOT / ".test" / "config.yaml"), root=tmp_path / "results")


def test_report_on_results_without_a_record_is_refused_and_no_results_is_left_to_snakemake(tmp_path):
    (tmp_path / "results" / "donut" / "figures").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds results but no record of their configuration"):
        check_report_config(run_config(), root=tmp_path / "results")
    check_report_config(run_config(), root=tmp_path / "elsewhere")


def test_run_arguments_are_relative_to_the_working_directory_and_not_a_rerun_trigger(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = RunArguments([tmp_path / ".test" / "config.yaml", "/abs/other.yaml"], ["seed=3"])
    assert args.text() == "--configfile .test/config.yaml /abs/other.yaml --config seed=3"
    quoted = RunArguments([], ["donut={'runs': 3}"]).text()  # as a shell takes it back
    assert shlex.split(quoted) == ["--config", "donut={'runs': 3}"]
    assert repr(args) == repr(RunArguments())  # Snakemake leaves it out of the params it compares


def test_parameter_table_names_value_and_meaning_of_every_parameter(tmp_path):
    block = run_config(ROOT / ".test" / "config.yaml")["donut"]["attack"]
    rows = parameter_table([block])
    assert rows[0] == ["parameter", "value", "meaning"]
    table = {r[0]: r[1:] for r in rows[1:]}
    assert table["target"][0] == "correct_background" and table["num_candidates"][0] == "40"
    assert table["use_no_change"][0] == "true" and table["min_change"] == ["0.001", "Smallest candidate move."]
    assert set(block["params"]) <= set(table) and all(meaning for _, meaning in table.values())
    write_parameter_table(block, tmp_path / "p.csv")
    assert pd.read_csv(tmp_path / "p.csv").columns.tolist() == ["parameter", "value", "meaning"]
    ranges = run_config(ROOT / ".test" / "config.yaml")["donut"]["adversarial_training"]["train_attack"]
    drawn = {r[0]: r[2] for r in parameter_table([block, ranges], ["attack", "training"])[1:]}
    assert drawn["alpha"] == "3 to 10 (drawn per iteration)"
    html = publish_parts(rst_table(parameter_table([block, ranges], ["attack", "training"])), writer="html",
                         settings_overrides={"halt_level": 2})["body"]
    assert "<table" in html and "Weight of the JSD" in html


def summary_metrics() -> set[str]:
    """Every metric name the studies put in summary.csv, from the functions that make them."""
    names = {m for numbers in PAPER_NUMBERS.values() for m in numbers}
    names |= {"fooling_ratio", "jsd_mean", "jsd_median", "jsd_max", "relative_fn"}  # metrics_per_run
    names |= {"fooling_ratio_cr", "fooling_ratio_sr", "fooling_ratio_all", "cr_jsd_mean", "cr_relative_fn"}
    names |= {"initial_fooling_ratio", *operating_point([True, False], [0.2, 0.9], [0.9, 0.1])}
    names |= set(real_vs_simulated_per_run(pd.DataFrame({"run": [0], "rate_real": [0.1], "consistent": [True]})))
    names |= {"auroc_base", "auroc_augmented", "auroc_gain", "augmentation_fooling_ratio"}
    names |= {f"advtrain_{k}" for k in ("grey_box_base", "grey_box_mean", "grey_box_best", "white_box_base",
                                        "white_box_mean", "white_box_at_best", "auroc_base", "auroc_mean",
                                        "auroc_at_best", "best_iteration")}
    disco = pd.DataFrame([{"method": m, "run": 0, "fooling_ratio": 0.1, "detector_test_fooling_ratio": 0.2,
                           "corrected_fooling_ratio": 0.1} for m in ("disco", "pearson")])
    names |= set(disco_per_run(disco))
    names |= {f"cross_run_{k}" for k in grey_box_summary(pd.DataFrame(np.eye(2)))}
    repeated = pd.DataFrame({"k": [0, 1, 2], "p_value": [1.0, 0.5, 0.01], "z_value": [0.0, 0.0, 2.3]})
    acceptance = pd.DataFrame({"threshold": [0.8, 0.8], "sample": ["simulated", "real"], "mean": [0.8, 0.7]})
    names |= set(detector_extras(repeated, acceptance))
    comparison = pd.DataFrame({"run": [0, 0, 0], "rule": ["reference"] * 2 + ["exact"], "n_chunks": [1, 4, None],
                               "constraints": ["per_move"] * 2 + ["calibrated"],
                               **{m: [0.1, 0.2, 0.3] for m in {*SUMMARY_METRICS, *CALIBRATED_METRICS}}})
    names |= set(comparison_per_run(comparison))
    assert {"fooling_ratio_calibrated", "corr_budget_ratio_max_calibrated"} <= names
    return names - {"run"}


def test_every_summary_metric_is_explained_in_one_sentence():
    missing = sorted(m for m in summary_metrics() if not metric_meaning(m))
    assert not missing, f"add these to conservattack.studies.glossary: {missing}"
    for m in summary_metrics():
        sentence = metric_meaning(m)
        assert sentence[0].isupper() and sentence.endswith(".") and sentence.count(". ") == 0, (m, sentence)


def test_summary_table_says_what_each_metric_measures():
    table = summary_table("donut", pd.DataFrame({"run": [0, 1], "fooling_ratio": [0.3, 0.4],
                                                 "relative_fn": [0.01, 0.02]}))
    assert list(table.columns[:3]) == ["dataset", "metric", "meaning"]
    assert table.set_index("metric").loc["relative_fn", "meaning"].startswith("Frobenius norm of the change")


class Snakemake:
    """What a caption sees of a job (``snakemake.config``, ``.wildcards``, ``.params``)."""

    def __init__(self, config, dataset, root):
        self.config = config
        self.wildcards = type("W", (), {"dataset": dataset})()
        self.params = type("P", (), {"numbers": ReportNumbers(dataset, root=str(root))})()


def render(path, snakemake) -> str:
    """A caption as Snakemake renders it (jinja2 with its options, then docutils), warnings fatal."""
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    text = env.from_string(path.read_text()).render(snakemake=snakemake)
    return publish_parts(text, writer="html", settings_overrides={"halt_level": 2})["html_body"]


def test_every_caption_renders_with_tables_and_explained_metrics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = run_config(ROOT / ".test" / "config.yaml", donut={"disco": {"enabled": True}, "real_data": "real.csv"})
    folder = tmp_path / "results" / "donut"
    (folder / "disco").mkdir(parents=True)
    per_run = pd.DataFrame({"run": [0, 1], "fooling_ratio": [0.3, 0.4], "jsd_mean": [0.01, 0.02],
                            "relative_fn": [0.02, 0.03]})
    summary_table("donut", per_run).to_csv(folder / "summary.csv", index=False)
    pd.DataFrame([{"method": m, "run": r, "detector_test_fooling_ratio": 0.2, "corrected_fooling_ratio": 0.1,
                   "detector_auroc": 0.7} for m in ("disco", "pearson") for r in (0, 1)]).to_csv(
        folder / "disco" / "metrics_per_run.csv", index=False)
    write_parameter_table(cfg["donut"]["attack"], folder / "attack_parameters.csv")
    snakemake = Snakemake(cfg, "donut", tmp_path / "results")
    captions = sorted(REPORT.glob("*.rst"))
    assert len(captions) > 20
    for caption in captions:
        html = render(caption, snakemake)
        assert "{'" not in html and "{&#x27;" not in html, f"{caption.name} shows a raw dictionary"
        assert "SPEC" not in html, caption.name
    marginals = render(REPORT / "marginals.rst", snakemake)
    assert "<table" in marginals and "Histogram bins of the JSD constraint and metric." in marginals
    assert "Jensen-Shannon distance between a feature" in marginals  # jsd_mean, explained
    landing = render(REPORT / "workflow.rst", snakemake)
    assert "Smallest candidate move." in landing and "docs/method.md section 5" in landing
    assert "Frobenius norm of the change of the Pearson correlation matrix" in landing  # summary's meanings
    disco = render(REPORT / "disco_vs_pearson.rst", snakemake)
    assert "Pearson (limited)" in disco and "AUROC of the detector separating" in disco


def test_report_texts_cite_the_method_not_the_spec():
    for path in [*REPORT.glob("*.rst"), ROOT / "workflow" / "rules" / "report.smk"]:
        assert "SPEC" not in path.read_text(), path.name


def test_config_of_the_report_matches_the_schema_defaults_copy():
    # the record holds the whole checked block: a later default change shows as a difference
    small = run_config(ROOT / ".test" / "config.yaml")
    changed = copy.deepcopy(small)
    changed["donut"]["attack"]["params"]["num_bins"] = 70
    from conservattack.pipeline.report import first_difference

    assert first_difference(small, changed)[0] == "donut.attack.params.num_bins"
    assert first_difference(small, copy.deepcopy(small)) is None
