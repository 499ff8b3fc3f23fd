"""Adversarial training (docs/method.md, study 4): parameter draws from ranges, the cumulative training set,
the white-box / grey-box evaluation tables and the per-run summary (base, mean, best iteration)."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
import yaml

from conservattack.studies.adversarial_training import (cumulative_training_set, draw_attack_params, fooling_rows, iterations_table, per_model_table, summarise_runs)
from conservattack.attacks.params import AttackParams, ParameterError
from paths import ROOT

HIGGS_RANGES = {"min_change": [0.001, 0.005], "step": [0.005, 0.03], "n_iterations": 10, "num_bins": 100,
                "alpha": [3.0, 10.0], "beta": [0.5, 2.5], "max_jsd_single_change": [0.005, 0.03],
                "max_frob_single_change": [0.0001, 0.001], "use_no_change": True}


def test_draws_lie_in_the_ranges_and_scalars_are_kept():
    for seed in range(200):
        p = draw_attack_params(HIGGS_RANGES, seed)
        for key, value in HIGGS_RANGES.items():
            if isinstance(value, list):
                assert value[0] <= p[key] <= value[1] and isinstance(p[key], float)
            else:
                assert p[key] == value
        AttackParams.from_config(p, seed=1)


def test_draws_depend_on_the_seed_not_on_key_order():
    a = draw_attack_params(HIGGS_RANGES, 5)
    assert a == draw_attack_params(dict(reversed(list(HIGGS_RANGES.items()))), 5)
    assert a != draw_attack_params(HIGGS_RANGES, 6)
    alphas = [draw_attack_params(HIGGS_RANGES, s)["alpha"] for s in range(2000)]
    assert np.mean(alphas) == pytest.approx(6.5, abs=0.15)  # U(3, 10)
    assert min(alphas) < 3.1 and max(alphas) > 9.9


def test_integer_ranges_draw_integers_with_both_ends():
    ranges = {"min_change": 0.001, "num_candidates": [2, 4], "num_bins": [30, 30]}
    drawn = {draw_attack_params(ranges, s)["num_candidates"] for s in range(200)}
    assert drawn == {2, 3, 4}
    assert draw_attack_params(ranges, 0)["num_bins"] == 30
    assert all(isinstance(draw_attack_params(ranges, s)["num_candidates"], int) for s in range(5))


@pytest.mark.parametrize("ranges,message", [
    ({"min_change": [0.002, 0.001]}, "low > high"),
    ({"min_change": [0.001, 0.002, 0.003]}, "must be [low, high]"),
    ({"min_change": [0.001, "x"]}, "must be [low, high]"),
    ({"min_change": 0.001, "num_bins": [10.5, 20]}, "must hold integers"),
    ({"min_change": [2.0, 3.0], "step": 0.01}, "'min_change' must be <= 1"),
    ({"min_change": 0.001, "alpah": [1, 2]}, "unknown attack parameter"),
])
def test_bad_ranges_are_errors_naming_the_key(ranges, message):
    with pytest.raises(ParameterError, match=message.replace("[", r"\[").replace("]", r"\]")):
        draw_attack_params(ranges, 0)


def test_configured_defaults_draw_valid_parameters():
    """The schema's Higgs and Donut ranges, and the default config's, give valid attack parameters."""
    from snakemake.utils import validate

    schema = str(ROOT / "workflow/schemas/config.schema.yaml")
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["datasets"] = ["donut", "higgs"]
    validate(cfg, schema)
    for dataset in ("donut", "higgs"):
        block = cfg[dataset]["adversarial_training"]
        for seed in range(50):
            AttackParams.from_config(draw_attack_params(block["train_attack"]["params"], seed))
        if block["test_attack"] is not None:
            AttackParams.from_config(block["test_attack"]["params"])
    assert cfg["higgs"]["adversarial_training"]["iterations"] == 10
    assert cfg["higgs"]["adversarial_training"]["test_attack"]["params"]["alpha"] == 8.0


@pytest.mark.parametrize("bad", [[0.001, 0.002, 0.003], ["a", "b"], {"low": 1}, [0.001]])
def test_schema_rejects_a_malformed_range(bad):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    def config(min_change):
        return {"donut": {"adversarial_training": {"train_attack": {"params": {"min_change": min_change}}}}}

    schema = str(ROOT / "workflow/schemas/config.schema.yaml")
    validate(config([0.001, 0.002]), schema)
    with pytest.raises(WorkflowError, match="min_change"):
        validate(config(bad), schema)


def test_cumulative_set_appends_fooled_adversaries_with_true_labels_in_order():
    X = np.arange(8.0).reshape(4, 2)
    y = np.array([0, 1, 0, 1])
    it1 = (np.full((3, 2), 10.0), np.array([0, 0, 1]), np.array([True, False, True]))
    it2 = (np.full((2, 2), 20.0) + [[0, 0], [1, 1]], np.array([1, 0]), np.array([False, True]))
    Xc, yc, counts = cumulative_training_set(X, y, [it1, it2])
    assert counts == [2, 1]
    np.testing.assert_array_equal(Xc[:4], X)
    np.testing.assert_array_equal(Xc[4:], [[10, 10], [10, 10], [21, 21]])
    np.testing.assert_array_equal(yc, [0, 1, 0, 1, 0, 1, 0])
    Xc0, yc0, counts0 = cumulative_training_set(X, y, [])
    assert counts0 == [] and len(Xc0) == 4
    with pytest.raises(ValueError, match="iteration 1"):
        cumulative_training_set(X, y, [(np.zeros((2, 3)), np.zeros(2), np.ones(2, bool))])


def test_fooling_rows_mark_white_and_grey_box():
    labels = {0: np.array([0, 0, 0, 0]), 1: np.array([1, 0])}
    probs = {0: np.array([0.9, 0.1, 0.5, 0.2]), 1: np.array([0.2, 0.7])}
    rows = {r["adversaries_of"]: r for r in fooling_rows(1, 3, labels, probs)}
    assert rows[0]["box"] == "grey" and rows[0]["fooling_ratio"] == 0.5  # 0.9 and 0.5 (P >= 0.5 -> 1)
    assert rows[1]["box"] == "white" and rows[1]["fooling_ratio"] == 1.0
    assert rows[1]["iteration"] == 3 and rows[1]["model_run"] == 1 and rows[0]["n_adversaries"] == 4


def _evaluation(fr):
    """Rows of fooling_rows from fr[model_run][iteration] = list of FR on each run's adversaries."""
    rows = []
    for t, per_iteration in fr.items():
        for k, values in enumerate(per_iteration):
            for s, v in enumerate(values):
                rows.append({"model_run": t, "iteration": k, "adversaries_of": s,
                             "box": "white" if s == t else "grey", "fooling_ratio": v, "n_adversaries": 10,
                             "auroc": 0.9 + 0.01 * k + 0.001 * t})
    return pd.DataFrame(rows)


def test_per_run_summary_base_mean_and_best_iteration():
    fr = {0: [[0.5, 0.7, 0.9], [0.3, 0.4, 0.2], [0.1, 0.2, 0.2], [0.2, 0.1, 0.3]],
          1: [[0.6, 0.4, 0.8], [0.2, 0.3, 0.4], [0.3, 0.1, 0.3], [0.1, 0.2, 0.2]],
          2: [[0.7, 0.6, 0.3], [0.5, 0.5, 0.1], [0.4, 0.4, 0.0], [0.3, 0.3, 0.2]]}
    models = per_model_table(_evaluation(fr))
    assert len(models) == 12
    m = models.set_index(["model_run", "iteration"])
    assert m.loc[(0, 0), "white_box"] == 0.5 and m.loc[(0, 0), "grey_box"] == pytest.approx(0.8)
    assert m.loc[(2, 1), "white_box"] == 0.1 and m.loc[(2, 1), "grey_box"] == pytest.approx(0.5)
    per_run = summarise_runs(models).set_index("run")
    assert per_run.loc[0, "advtrain_grey_box_base"] == pytest.approx(0.8)
    assert per_run.loc[0, "advtrain_grey_box_mean"] == pytest.approx(np.mean([0.3, 0.2, 0.2]))
    # run 0: iterations 2 and 3 tie at grey-box 0.2; the earlier one is the best
    assert per_run.loc[0, "advtrain_best_iteration"] == 2
    assert per_run.loc[0, "advtrain_grey_box_best"] == pytest.approx(0.2)
    assert per_run.loc[0, "advtrain_white_box_at_best"] == pytest.approx(0.1)
    assert per_run.loc[0, "advtrain_white_box_base"] == 0.5
    assert per_run.loc[0, "advtrain_white_box_mean"] == pytest.approx(np.mean([0.3, 0.1, 0.2]))
    assert per_run.loc[1, "advtrain_best_iteration"] == 3 and per_run.loc[1, "advtrain_grey_box_best"] == pytest.approx(0.15)
    assert per_run.loc[2, "advtrain_auroc_base"] == pytest.approx(0.902)
    assert per_run.loc[2, "advtrain_auroc_mean"] == pytest.approx(0.922)
    assert per_run.loc[2, "advtrain_auroc_at_best"] == pytest.approx(0.902 + 0.03)  # best: iteration 3 (grey-box 0.3)


def test_one_run_has_no_grey_box_and_picks_the_best_by_white_box():
    per_run = summarise_runs(per_model_table(_evaluation({0: [[0.5], [0.3], [0.4]]}))).iloc[0]
    assert np.isnan(per_run.advtrain_grey_box_base) and np.isnan(per_run.advtrain_grey_box_best)
    assert per_run.advtrain_best_iteration == 1 and per_run.advtrain_white_box_at_best == 0.3


def test_summary_needs_the_base_model_and_an_iteration():
    models = per_model_table(_evaluation({0: [[0.5, 0.4], [0.3, 0.2]], 1: [[0.5, 0.4], [0.3, 0.2]]}))
    with pytest.raises(ValueError, match="run 0"):
        summarise_runs(models[~((models.model_run == 0) & (models.iteration == 0))])


def test_iterations_table_records_drawn_parameters_and_set_sizes():
    models = per_model_table(_evaluation({0: [[0.5, 0.4], [0.3, 0.2]], 1: [[0.5, 0.4], [0.3, 0.2]]}))
    attacks = {(r, 1): {"n_targeted": 100, "n_fooled": 30 + r, "final": {"fooling_ratio": 0.3},
                        "drawn_params": {"alpha": 4.0 + r, "min_change": 0.002}} for r in (0, 1)}
    trained = {(r, 1): {"n_clean": 1000, "n_adversaries": 30 + r} for r in (0, 1)}
    table = iterations_table(models, attacks, trained).set_index(["model_run", "iteration"])
    assert table.loc[(1, 1), "param_alpha"] == 5.0 and table.loc[(1, 1), "n_training"] == 1031
    assert np.isnan(table.loc[(0, 0), "param_alpha"])  # the base model draws nothing
    assert table.loc[(0, 1), "train_attack_fooled"] == 30


def test_a_partial_block_takes_the_spec_ranges_and_can_switch_the_study_off():
    from snakemake.utils import validate

    schema = str(ROOT / "workflow/schemas/config.schema.yaml")
    cfg = {"higgs": {"adversarial_training": {"iterations": 3}}, "ttww": {"adversarial_training": {"enabled": False}}}
    validate(cfg, schema)
    block = cfg["higgs"]["adversarial_training"]
    assert block["iterations"] == 3 and block["test_attack"] is None  # null: the study's own attack
    assert block["train_attack"]["params"]["max_frob_single_change"] == [0.0001, 0.001]
    assert cfg["ttww"]["adversarial_training"]["enabled"] is False
    ttww = {"ttww": {}}
    validate(ttww, schema)
    assert ttww["ttww"]["adversarial_training"]["iterations"] == 5
    assert ttww["ttww"]["adversarial_training"]["test_attack"]["params"]["max_frob_single_change"] == 0.0001
