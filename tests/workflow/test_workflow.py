"""The Snakemake workflow end to end on the small .test config: outputs, config validation, and
incremental re-runs (a library edit and a config change re-run exactly the dependent rules)."""

from __future__ import annotations

import json
import os
import re
import shutil

import pandas as pd
import pytest

from snakemake_helpers import copy_workflow, planned_jobs, rule_blocks, rule_scripts, smk

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def done_run(tmp_path_factory):
    wd = copy_workflow(tmp_path_factory.mktemp("wf"))
    proc = smk(wd, "--configfile", ".test/config.yaml")
    (wd / "terminal.txt").write_text(proc.stdout + proc.stderr)  # what the terminal showed
    return wd


def test_terminal_shows_one_line_per_job_and_no_input_lists(done_run):
    """Each job: its own line (rule, wildcards, log) and Snakemake's "k of n steps done"; the
    job blocks with every library module as an input (750 lines for this run) stay off."""
    out = (done_run / "terminal.txt").read_text().splitlines()
    jobs = int(re.search(r"^(\d+) of (\d+) steps \(100%\) done$", "\n".join(out), re.M).group(2))
    started = [line for line in out if re.match(r"\[\d\d:\d\d:\d\d\] \w+ .*: started \(log results/", line)]
    assert len(started) == jobs - 1  # all: no script
    assert not [line for line in out if line.lstrip().startswith(("input:", "output:", "Finished jobid"))]
    # + the run's header, its table of jobs (a row per rule) and the progress lines of jobs over 20 s
    rules = len(re.findall(r"^\w+\s+\d+$", "\n".join(out).split("Job stats:")[1].split("\ntotal")[0], re.M))
    assert len(out) <= 2 * jobs + rules + 60, len(out)


def test_outputs_of_the_small_run(done_run):
    d = done_run / "results" / "donut"
    summary = pd.read_csv(d / "summary.csv")
    fr = summary.set_index("metric").loc["fooling_ratio"]
    assert 0 < fr.ours_mean < 1 and fr.paper == pytest.approx(0.354)
    matrix = pd.read_csv(d / "cross_run_fooling.csv", index_col=0)
    assert matrix.shape == (2, 2)
    per_run = pd.read_csv(d / "metrics_per_run.csv")
    assert list(per_run.run) == [0, 1]
    for r in (0, 1):  # the diagonal of the cross-run matrix is each run's own fooling ratio
        assert matrix.iloc[r, r] == pytest.approx(per_run.fooling_ratio[r])
    for fig in ("point_clouds", "marginals", "metrics_per_run", "correlation_matrices",
                "cross_run_fooling", "fooling_vs_iteration", "detector_per_run", "detector_cross_run",
                "repeated_misclassification", "clean_acceptance", "detector_point_clouds", "augmentation_auroc",
                "adversarial_training", "rule_comparison"):
        for ext in ("png", "pdf"):
            assert (d / "figures" / f"{fig}.{ext}").stat().st_size > 1000
    detector = pd.read_csv(d / "detector" / "metrics_per_run.csv")
    assert (detector.corrected_fooling_ratio <= detector.initial_fooling_ratio).all()
    repeated = pd.read_csv(d / "detector" / "repeated_misclassification.csv")
    assert list(repeated.k) == [0, 1, 2] and repeated.observed.sum() == len(pd.read_parquet(d / "data" / "test.parquet"))
    rows = summary.set_index("metric")  # the detector study's single numbers are in the summary too
    for k in (0, 1, 2):
        assert rows.loc[f"repeated_misclassification_p_k{k}", "ours_mean"] == pytest.approx(repeated.p_value[k], rel=1e-5)
        assert rows.loc[f"repeated_misclassification_z_k{k}", "ours_mean"] == pytest.approx(repeated.z_value[k], rel=1e-5)
    acceptance = pd.read_csv(d / "detector" / "acceptance.csv").round({"threshold": 6}).set_index("threshold")
    assert rows.loc["clean_acceptance_simulated_at_0.8", "ours_mean"] == pytest.approx(acceptance.loc[0.8, "mean"],
                                                                                      rel=1e-5)
    assert "clean_acceptance_real_at_0.8" not in rows.index and "detector_efficiency_clean_real" not in rows.index
    assert "Corrected fooling ratio" in (d / "verdict.md").read_text()
    augmentation = pd.read_csv(d / "augmentation" / "metrics_per_run.csv")
    assert list(augmentation.run) == [0, 1] and augmentation.auroc_base.between(0.5, 1).all()
    assert (augmentation.auroc_gain == augmentation.auroc_augmented - augmentation.auroc_base).all()
    assert len(pd.read_parquet(d / "augmentation" / "train_subset.parquet")) == 600
    assert summary.set_index("metric").loc["corrected_fooling_ratio", "paper"] == pytest.approx(0.153)
    advtrain = pd.read_csv(d / "adversarial_training" / "metrics_per_run.csv").set_index("run")
    assert list(advtrain.index) == [0, 1]
    for r in (0, 1):  # the base model's white-box / grey-box entries are the cross-run matrix's
        assert advtrain.advtrain_white_box_base[r] == pytest.approx(matrix.iloc[r, r])
        assert advtrain.advtrain_grey_box_base[r] == pytest.approx(matrix.iloc[1 - r, r])
    assert (advtrain.advtrain_grey_box_best <= advtrain.advtrain_grey_box_mean + 1e-12).all()
    iterations = pd.read_csv(d / "adversarial_training" / "iterations.csv")
    assert len(iterations) == 2 * 3 and iterations.auroc.between(0.5, 1).all()
    drawn = iterations[iterations.iteration > 0]
    assert drawn.param_alpha.between(3.0, 10.0).all() and drawn.param_alpha.nunique() == 4
    assert (drawn.n_training > 1800).all()
    assert "advtrain_grey_box_best" in set(summary.metric)
    meta = (d / "runs" / "run0" / "attack" / "attack.json").read_text()
    assert '"versions"' in meta and '"torch"' in meta and '"numba"' in meta and '"config"' in meta
    # the rule comparison (runs: 1; the Donut's two features are one chunk): run 0's attack again
    # under the reference rule, on the same events with the same parameters and seed
    comparison = pd.read_csv(d / "rule_comparison.csv")
    assert comparison.setting.tolist() == ["exact", "reference, 1 chunk", "calibrated"] and (comparison.run == 0).all()
    assert comparison.fooling_ratio[0] == pytest.approx(per_run.fooling_ratio[0], rel=1e-5)
    exact, reference = (json.loads((d / "runs" / "run0" / folder / "attack.json").read_text())
                        for folder in ("attack", "attack_reference/chunks1"))
    assert reference["params"] == {**exact["params"], "rule": "reference", "n_chunks": 1}
    assert reference["n_targeted"] == exact["n_targeted"] == comparison.n_targeted[0]
    assert comparison.reported_relative_fn[1] == pytest.approx(reference["final"]["reference_relative_fn"], rel=1e-5)
    assert rows.loc["fooling_ratio_reference_c1", "n_runs"] == 1 and rows.loc["fooling_ratio_reference_c1", "paper"] == \
        pytest.approx(0.354)
    assert rows.loc["relative_fn_reference_c1", "ours_mean"] == pytest.approx(comparison.relative_fn[1], abs=1e-6)
    # and once more under the calibrated constraints: the same grid, weights and seed, no per-move limits,
    # the budgets written with it and never exceeded
    calibrated = json.loads((d / "runs" / "run0" / "attack_calibrated" / "attack.json").read_text())
    mode = ("max_jsd_single_change", "max_frob_single_change", "constraints", "calibration_")

    def shared(params):  # (a record holds every parameter; these differ between the modes)
        return {k: v for k, v in params.items() if not k.startswith(mode)}

    assert shared(calibrated["params"]) == shared(exact["params"])
    assert calibrated["params"]["constraints"] == "calibrated" and calibrated["budgets"]["resamples"] == 50
    assert len(calibrated["budgets"]["jsd"]) == 2 and calibrated["final"]["jsd_budget_ratio_max"] <= 1 + 1e-9
    assert comparison.corr_budget_ratio_max[2] == pytest.approx(calibrated["final"]["corr_budget_ratio_max"], rel=1e-5)
    assert rows.loc["fooling_ratio_calibrated", "ours_mean"] == pytest.approx(comparison.fooling_ratio[2], abs=1e-6)
    # every attack validated against the validation split's events of the attacked classes
    validation = pd.read_csv(d / "validation.csv")
    assert validation[["run", "attack"]].values.tolist() == [[0, "attack"], [1, "attack"],
                                                            [0, "attack_reference/chunks1"], [0, "attack_calibrated"]]
    for folder in ("attack", "attack_reference/chunks1", "attack_calibrated"):
        table = pd.read_csv(d / "runs" / "run0" / folder / "validation.csv")
        assert table[["item", "test"]].values.tolist() == [["x1", "chi2"], ["x1", "ks"], ["x2", "chi2"], ["x2", "ks"],
                                                          ["x1|x2", "pull"]]
        record = json.loads((d / "runs" / "run0" / folder / "validation.json").read_text())
        assert record["n_attacked"] == json.loads((d / "runs" / "run0" / folder / "attack.json").read_text())[
            "n_targeted"] and record["n_independent"] >= 30 and '"versions"' in json.dumps(record)
        assert (d / "runs" / "run0" / folder / "validation.png").stat().st_size > 1000
    assert "Validation against an independent sample" in (d / "verdict.md").read_text()
    assert planned_jobs(done_run, "--configfile", ".test/config.yaml") == {}


def test_a_bad_independent_sample_stops_the_validation_naming_it_and_writes_nothing(done_run, tmp_path):
    wd = copy_workflow(tmp_path)
    shutil.copytree(done_run / "results", wd / "results")
    shutil.copytree(done_run / ".snakemake", wd / ".snakemake")
    d = wd / "results" / "donut"
    val = d / "data" / "val.parquet"
    out = d / "runs" / "run0" / "attack"
    target = "results/donut/runs/run0/attack/validation.csv"
    for edit, expected in (
            (lambda df: df.drop(columns=["x2"]), "results/donut/data/val.parquet (independent sample): no column 'x2'"),
            (lambda df: df.iloc[:20], "event(s), fewer than num_bins = 30")):
        stat = val.stat()
        pd.read_parquet(done_run / "results" / "donut" / "data" / "val.parquet").pipe(edit).to_parquet(val)
        os.utime(val, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # no re-training: only the validation is forced
        proc = smk(wd, target, "--force", "--configfile", ".test/config.yaml", check=False)
        log = (d / "logs" / "validate_attack_run0_attack.log").read_text()
        assert proc.returncode != 0 and expected in log, log[-2000:]
        assert not [f for f in out.glob("validation.*")], "nothing partial is written"


def test_every_rule_lists_its_script_and_library_modules_as_inputs():
    # re-runs after a code edit rest on these inputs alone: the workflow profile turns Snakemake's
    # code trigger off (it would re-run a download rule, and delete its data, on a script edit)
    scripts, blocks = rule_scripts(), rule_blocks()
    assert len(scripts) >= 40
    for rule, stem in scripts.items():
        inputs = re.search(r"^    input:\n(.*?)^    \w+:", blocks[rule], re.M | re.S)
        assert inputs, f"rule {rule} has no input block"
        for needed in (f'script_path("{stem}")', f'lib("{stem}")'):
            assert needed in inputs.group(1), f"rule {rule} does not list {needed} as an input"


def test_library_edit_reruns_exactly_the_dependent_rules(done_run, tmp_path):
    wd = copy_workflow(tmp_path)
    shutil.copytree(done_run / "results", wd / "results")
    shutil.copytree(done_run / ".snakemake", wd / ".snakemake")
    assert planned_jobs(wd, "--configfile", ".test/config.yaml") == {}
    with open(wd / "workflow/lib/conservattack/plots/figures.py", "a") as fh:
        fh.write("\n# an edit\n")
    assert planned_jobs(wd, "--configfile", ".test/config.yaml") == {
        "plot_attack_run": 1, "plot_runs": 1, "plot_point_clouds": 1, "plot_detector": 1,
        "plot_detector_point_clouds": 1, "plot_augmentation": 1, "plot_adversarial_training": 1, "all": 1}
    smk(wd, "--configfile", ".test/config.yaml", "-q")
    # a rule's script is one of its inputs: editing it re-runs that rule by mtime (the profile
    # turns Snakemake's code trigger off) and what reads its output
    with open(wd / "scripts" / "plot_runs.py", "a") as fh:
        fh.write("\n# an edit\n")
    assert planned_jobs(wd, "--configfile", ".test/config.yaml") == {"plot_runs": 1, "all": 1}
    smk(wd, "--configfile", ".test/config.yaml", "-q")
    before = planned_jobs(wd, "--configfile", ".test/config.yaml", "--forceall")
    with open(wd / "workflow/lib/conservattack/models/mlp.py", "a") as fh:
        fh.write("\n# an edit\n")
    after = planned_jobs(wd, "--configfile", ".test/config.yaml")
    # data preparation, the subset selection and the configuration's record do not use the models
    # module; everything else does (or depends on a rule that does)
    assert after == {rule: n for rule, n in before.items()
                     if rule not in ("prepare_donut", "augmentation_subset", "record_config")}


def test_config_change_reruns_only_affected_rules(done_run, tmp_path):
    wd = copy_workflow(tmp_path)
    shutil.copytree(done_run / "results", wd / "results")
    shutil.copytree(done_run / ".snakemake", wd / ".snakemake")
    cfg = wd / ".test/config.yaml"
    cfg.write_text(cfg.read_text().replace("alpha: 6.0", "alpha: 5.0", 1))  # the attack study's alpha
    out = smk(wd, "-n", "--configfile", ".test/config.yaml").stdout
    assert "params have changed since last execution:\n        attack" in out
    assert planned_jobs(wd, "--configfile", ".test/config.yaml") == {
        "attack": 2, "cross_run_fooling": 1, "plot_attack_run": 1, "plot_point_clouds": 1, "plot_runs": 1,
        "summary": 1, "all": 1, "record_config": 1,
        # and the rule comparison's reference-rule attack of run 0, with the same parameters
        "reference_attack": 1, "rule_comparison": 1, "plot_rule_comparison": 1,
        # and its calibrated attack, whose grid and weights are the same block's
        "calibrated_attack": 1,
        # the attack's adversaries are also adversarial training's test adversaries (test_attack: null)
        "adversarial_training_evaluate": 2, "adversarial_training_metrics": 1, "plot_adversarial_training": 1,
        # every attack's validation, their table and the verdict that reads it
        "validate_attack": 4, "validation_summary": 1, "verdict": 1}


def test_adversarial_training_resumes_and_extends_without_redoing_iterations(done_run, tmp_path):
    wd = copy_workflow(tmp_path)
    shutil.copytree(done_run / "results", wd / "results")
    shutil.copytree(done_run / ".snakemake", wd / ".snakemake")
    d = wd / "results" / "donut"
    # interrupted before run 1's second retraining: only that job and what reads it run again
    for f in [*(d / "adversarial_training" / "run1" / "iter2").glob("model.*"),
              d / "adversarial_training" / "run1" / "evaluation.csv", *(d / "adversarial_training").glob("*.csv"),
              d / "summary.csv", *(d / "figures").glob("adversarial_training.*")]:
        f.unlink()
    assert planned_jobs(wd, "--configfile", ".test/config.yaml") == {
        "adversarial_training_retrain": 1, "adversarial_training_evaluate": 1, "adversarial_training_metrics": 1,
        "plot_adversarial_training": 1, "summary": 1, "all": 1}
    smk(wd, "--configfile", ".test/config.yaml", "-q")
    # one more iteration: one new attack and retraining per run; the finished iterations stay
    cfg = wd / ".test/config.yaml"
    cfg.write_text(cfg.read_text().replace("    iterations: 2\n", "    iterations: 3\n", 1))
    assert planned_jobs(wd, "--configfile", ".test/config.yaml") == {
        "adversarial_training_attack": 2, "adversarial_training_retrain": 2, "adversarial_training_evaluate": 2,
        "adversarial_training_metrics": 1, "plot_adversarial_training": 1, "summary": 1, "all": 1,
        "record_config": 1}


@pytest.mark.parametrize("edit,expected", [
    ("runs: 2", ["config donut.nruns: unknown key 'nruns' in donut; did you mean runs?"]),
    ("runs: 2\n  training: {max_epochs: four}", ["config donut.training.max_epochs: 'four' is not of type 'integer'"]),
    ("datasets: [donut, higs]", ["config datasets[1]: 'higs' is not one of"]),
    ("rule_comparison: {enabled: true, runs: 1, n_chunks: [0]}",
     ["config donut.rule_comparison.n_chunks[0]: 0 is less than the minimum of 1"]),
])
def test_bad_config_stops_before_any_rule(tmp_path, edit, expected):
    wd = copy_workflow(tmp_path)
    cfg = wd / ".test/config.yaml"
    text = cfg.read_text()
    if edit == "runs: 2":
        text = text.replace("  runs: 2", "  nruns: 2")
    elif edit.startswith("datasets"):
        text = text.replace("datasets: [donut]", edit)
    elif edit.startswith("rule_comparison"):
        text = text.replace("rule_comparison: {enabled: true, runs: 1, calibrated: {enabled: true, resamples: 50}}",
                            edit)
    else:
        text = text.replace("\n  training: {max_epochs: 20,", "\n  training: {max_epochs: four,")
    cfg.write_text(text)
    proc = smk(wd, "--configfile", ".test/config.yaml", check=False)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    for e in expected:
        assert e in message, message[-2000:]
    assert len(message.splitlines()) < 15 and "Failed validating" not in message, message[-2000:]
    assert not (wd / "results").exists(), "no rule may run on an invalid config"


def test_real_data_set_feeds_acceptance_and_verdict(done_run, tmp_path):
    from conservattack.data.donut import generate_donut

    wd = copy_workflow(tmp_path)
    shutil.copytree(done_run / "results", wd / "results")
    shutil.copytree(done_run / ".snakemake", wd / ".snakemake")
    generate_donut(800, 800, seed=99).drop(columns=["label", "event"]).to_csv(wd / "real.csv", index=False)
    cfg = wd / ".test/config.yaml"
    cfg.write_text(cfg.read_text().replace("  runs: 2\n", "  runs: 2\n  real_data: real.csv\n"))
    jobs = planned_jobs(wd, "--configfile", ".test/config.yaml")
    assert {"prepare_real_data", "evaluate_detectors", "verdict"} <= set(jobs)
    assert "train_detector" not in jobs and "attack" not in jobs
    smk(wd, "--configfile", ".test/config.yaml")
    d = wd / "results" / "donut"
    comparison = pd.read_csv(d / "detector" / "real_vs_simulated.csv")
    assert list(comparison.run) == [0, 1] and (comparison.n_real == 1600).all()
    assert set(pd.read_csv(d / "detector" / "acceptance.csv")["sample"]) == {"simulated", "real"}
    assert "Real vs simulated clean events flagged" in (d / "verdict.md").read_text()
    summary = pd.read_csv(d / "summary.csv").set_index("metric")
    real = summary.loc["detector_efficiency_clean_real"]
    assert real.ours_mean == pytest.approx(1 - comparison.rate_real.mean(), rel=1e-5) and real.n_runs == 2
    assert 0 <= summary.loc["clean_acceptance_real_at_0.8", "ours_mean"] <= 1
    assert summary.loc["real_vs_simulated_consistent", "ours_mean"] == pytest.approx(comparison.consistent.mean())


def test_snakemake_lint_is_clean(tmp_path):
    wd = copy_workflow(tmp_path)
    proc = smk(wd, "--lint")
    out = proc.stdout + proc.stderr
    assert "Congratulations, your workflow is in a good condition!" in out, out[-3000:]


def test_html_report_holds_every_figure_by_study_with_captions(done_run):
    """`snakemake --report`: one self-contained HTML file (images inline, nothing fetched), every
    study a category, captions with the parameters and the paper's number beside ours."""
    import re

    smk(done_run, "--configfile", ".test/config.yaml", "--report", "report.html")
    html = (done_run / "report.html").read_text()
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html), "the report must not load anything"
    for category in ("0. Summary and verdict", "1. Attack", "3. Augmentation", "4. Adversarial training",
                     "5-7. Adversarial detector", "8. Donut illustration"):
        assert category in html, category
    d = done_run / "results" / "donut" / "figures"
    for png in d.glob("*.png"):  # every figure, inline
        assert f'"{png.name}"' in html and f"filename={png.name};base64," in html, png.name
    assert "Fooling ratio, mean JSD of the marginals" in html  # metrics_per_run.rst
    assert "Repeated misclassification (dataset" in html  # repeated_misclassification.rst
    assert "Exact and reference decision rule side by side" in html  # rule_comparison.rst, with its table
    assert "results/donut/rule_comparison.csv" in html and "fooling_ratio_reference_c1" in html
    assert "<strong>paper</strong> 0.354 (initial fooling ratio 0.354)" in html
    assert re.search(r"<strong>ours</strong> 0\.\d+ \\u00b1 0\.\d+ \(2 runs\)", html)
    assert "results/donut/summary.csv (ours: mean, std, min, max over runs" in html  # workflow.rst's table
    # parameters as a table of name, value and meaning; every metric explained; the method cited
    assert ">meaning</th>" in html
    assert "Smallest candidate move." in html and "Histogram bins of the JSD constraint and metric." in html
    assert "Frobenius norm of the change of the Pearson correlation matrix" in html
    # the method is cited as the project's own docs/method.md, never a file outside the repository
    assert "{'min_change'" not in html and "docs/method.md" in html and "../shared/" not in html


def test_report_without_the_runs_configfile_is_refused(done_run):
    """The report's captions read the configuration they are given: written without the run's
    --configfile, they would state the default configuration's parameters above this run's numbers."""
    proc = smk(done_run, "--report", "refused.html", check=False)
    message = proc.stdout + proc.stderr
    assert proc.returncode != 0 and not (done_run / "refused.html").exists()
    assert "snakemake --report report.html --configfile .test/config.yaml" in message, message[-2000:]
    assert "--configfile results/donut/config.yaml" in message
    # the recorded configuration is one: the report written with it is the run's
    smk(done_run, "--configfile", "results/donut/config.yaml", "--report", "recorded.html")
    assert (done_run / "recorded.html").stat().st_size > 10**6
