"""Size scaling (conservattack.studies.scaling): rule configurations, size lists, nested subsets,
and the study in one call, each row the attack of the first n events of one seeded order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conservattack.attacks.api import attack
from conservattack.attacks.params import AttackParams
from conservattack.studies.scaling import (COLUMNS, RuleConfig, check_sizes, nested_order, paper_reference,
                                           rule_configs, run_scaling, size_errors, size_tokens, size_value)

PARAMS = {"min_change": 0.002, "step": 0.004, "n_iterations": 2, "num_bins": 20, "alpha": 4.0, "beta": 1.0,
          "max_jsd_single_change": 0.05, "max_frob_single_change": 0.01}


def test_rule_configurations():
    configs = rule_configs(["exact", "reference"], [1, 4])
    assert [c.name for c in configs] == ["exact", "reference_c1", "reference_c4"]
    assert [c.label for c in configs] == ["exact rule", "reference rule, 1 chunk", "reference rule, 4 chunks"]
    assert [RuleConfig.parse(c.name) for c in configs] == configs
    assert RuleConfig("reference", 4).params({**PARAMS, "rule": "exact"}) == {**PARAMS, "rule": "reference",
                                                                                "n_chunks": 4}
    assert RuleConfig("exact").params({**PARAMS, "n_chunks": 3}) == {**PARAMS, "rule": "exact"}
    for bad in (("referense", None), ("exact", 2), ("reference", 0), ("reference", None), ("calibrated", 2)):
        with pytest.raises(ValueError):
            RuleConfig(*bad)


def test_the_calibrated_setting_replaces_the_per_move_limits():
    config = rule_configs(["exact", "calibrated"], [1])[1]
    assert (config.name, config.label, RuleConfig.parse("calibrated")) == ("calibrated", "calibrated constraints",
                                                                            config)
    limits = ("max_jsd_single_change", "max_frob_single_change")
    params = config.params({**PARAMS, "rule": "exact", "n_chunks": 1}, {"resamples": 40, "quantile": 0.8, "z": 2})
    assert params == {**{k: v for k, v in PARAMS.items() if k not in limits}, "rule": "exact",
                      "constraints": "calibrated", "calibration_resamples": 40, "calibration_quantile": 0.8,
                      "calibration_z": 2.0}
    assert config.params(PARAMS)["calibration_resamples"] == 200  # the parameters' default


def test_a_calibrated_row_is_the_calibrated_attack_of_its_subset(small_problem):
    model, X, y = small_problem
    configs = rule_configs(["calibrated"], [1])
    calibration = {"resamples": 30, "quantile": 0.5, "z": 1.0}
    table = run_scaling(model, X, y, [40, 60, 80, 100, "all"], configs, PARAMS, seed=2, order_seed=3,
                        engine="cpu", calibration=calibration)
    assert table["config"].tolist() == ["calibrated"] * 5 and (table["rule"] == "calibrated").all()
    rows = nested_order(len(X), 3)[:60]
    p = AttackParams.from_config(configs[0].params(PARAMS, calibration), seed=2)
    direct = attack(model, X[rows], y[rows], p, progress=False, engine="numpy")
    assert table.loc[table["size"] == 60, "fooling_ratio"].item() == direct.fooling_ratio


@pytest.mark.parametrize("sizes,available,message", [
    ([10, 20, 30, 40], None, "at least 5 sizes are needed for a curve, got 4"),
    ([10, 20, 30, 25, "all"], None, "sizes must be strictly increasing"),
    ([10, 20, 20, 30, 40], None, "sizes must be strictly increasing"),
    ([10, 20, "all", 30, 40], None, "'all' may only be the last size"),
    ([1, 20, 30, 40, 50], None, "sizes are event counts >= 2"),
    ([10, 20, 30.5, 40, 50], None, "sizes are event counts >= 2"),
    ([10, 20, 30, 40, 500], 400, "size 500 is larger than the attacked set (400 events)"),
    ([10, 20, 30, 400, "all"], 400, "'all' is 400 events, not more than the size before it (400)"),
])
def test_size_mistakes_name_the_key(sizes, available, message):
    errors = size_errors(sizes, "higgs.scaling.sizes", available)
    assert errors and all(e.startswith("config higgs.scaling.sizes: ") for e in errors)
    assert any(message in e for e in errors), errors
    with pytest.raises(ValueError, match="higgs.scaling.sizes"):
        check_sizes(sizes, "higgs.scaling.sizes", available)


def test_sizes_and_nested_order():
    assert size_errors([10, 20, 30, 40, "all"], "k", 41) == []
    assert size_tokens([10, 20, "all"]) == ["10", "20", "all"]
    assert size_value("all", 77) == 77 and size_value("20", 77) == 20
    order = nested_order(100, seed=3)
    assert sorted(order) == list(range(100)) and (order == nested_order(100, seed=3)).all()
    assert not (order == nested_order(100, seed=4)).all()


def test_paper_reference():
    assert paper_reference("ttww") == {"fooling_ratio": 0.675, "jsd_mean": 0.045, "relative_fn": 0.182}
    assert paper_reference("higgs") == {"fooling_ratio": 0.89}
    assert paper_reference("custom") == {}


def test_each_row_is_the_attack_of_the_first_n_events_of_one_order(small_problem):
    model, X, y = small_problem
    X, y = X[:120], y[:120]
    sizes = [30, 45, 60, 90, "all"]
    configs = rule_configs(["exact", "reference"], [1, 2])
    table = run_scaling(model, X, y, sizes, configs, PARAMS, seed=5, order_seed=9, engine="numpy", dataset="toy")
    assert list(table.columns) == COLUMNS and len(table) == 15
    assert table["config"].tolist() == ["exact"] * 5 + ["reference_c1"] * 5 + ["reference_c2"] * 5
    assert table["size"].tolist() == [30, 45, 60, 90, 120] * 3
    assert table["n_chunks"].isna().tolist() == [True] * 5 + [False] * 10
    assert table.loc[table.rule == "exact", "cross_chunk_max_shift"].isna().all()
    assert table.loc[table.rule == "reference", "cross_chunk_max_shift"].notna().all()
    assert not table["standin"].any() and (table["dataset"] == "toy").all()
    order = nested_order(120, 9)
    for row in table[table["size"].isin([45, 120])].itertuples():
        rows = order[: row.size]
        p = AttackParams.from_config(RuleConfig.parse(row.config).params(PARAMS), seed=5)
        direct = attack(model, X[rows], y[rows], p, progress=False, engine="numpy")
        assert row.fooling_ratio == direct.fooling_ratio
        assert row.relative_fn == pytest.approx(direct.history[-1]["relative_fn"], abs=1e-15)
        assert row.n_fooled == int(direct.fooled.sum())
    with pytest.raises(ValueError, match="larger than the attacked set"):
        run_scaling(model, X, y, [30, 45, 60, 90, 200], configs, PARAMS)


def test_table_orders_configurations_as_given_and_sizes_increasing():
    from conservattack.studies.scaling import scaling_table

    def meta(config, size):
        return {"dataset": "higgs", "standin": True, "data": "stand-in", "size": size, "rule_config": config,
                "engine": "auto", "history": [{"fooling_ratio": 0.5, "jsd_mean": 0.01, "jsd_max": 0.02,
                                               "relative_fn": 0.1, "events_moved": 3, "seconds": 1.5}]}

    table = scaling_table([meta("reference_c4", 200), meta("exact", 100), meta("reference_c4", 100)])
    assert list(zip(table.config, table["size"])) == [("reference_c4", 100), ("reference_c4", 200), ("exact", 100)]
    assert table["standin"].all() and table["n_fooled"].tolist() == [50, 100, 50]
    assert pd.isna(table.loc[2, "n_chunks"]) and table.loc[0, "n_chunks"] == 4
    assert np.isnan(table.loc[0, "cross_chunk_max_shift"])
