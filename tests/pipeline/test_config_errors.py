"""A configuration mistake stops the workflow with a short message naming the key (its dotted
path) and, for a misspelt key, the closest valid keys; never with the schema dumped."""

from __future__ import annotations

import copy

import pytest
import yaml

from conservattack.pipeline.configschema import (checked_config, comparison_chunks, comparison_runs, unknown_key_message,
                                                 unknown_keys)
from paths import ROOT
from snakemake_helpers import copy_workflow, smk

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def config_with(**blocks) -> dict:
    """The default config.yaml with ``blocks`` merged in, key by key."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())

    def merge(into, new):
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = copy.deepcopy(value)

    merge(cfg, blocks)
    return cfg


def error_of(cfg) -> str:
    with pytest.raises(ValueError) as info:
        checked_config(cfg, SCHEMA)
    return str(info.value)


@pytest.mark.parametrize("blocks,expected", [
    ({"donutt": {"runs": 2}}, "config donutt: unknown key 'donutt' at the top level; did you mean donut?"),
    ({"seed2": 3}, "config seed2: unknown key 'seed2' at the top level; did you mean seed?"),
    ({"donut": {"attack": {"params": {"min_chnage": 0.002}}}},
     "config donut.attack.params.min_chnage: unknown key 'min_chnage' in donut.attack.params; "
     "did you mean min_change?"),
    ({"donut": {"nruns": 2}}, "config donut.nruns: unknown key 'nruns' in donut; did you mean runs?"),
    ({"higgs": {"adversarial_training": {"test_attack": {"parms": {"min_change": 0.01}}}}},
     "config higgs.adversarial_training.test_attack.parms: unknown key 'parms' in "
     "higgs.adversarial_training.test_attack; did you mean params?"),
])
def test_a_misspelt_key_is_named_with_the_closest_valid_keys(blocks, expected):
    assert error_of(config_with(**blocks)) == expected


def test_an_unknown_key_without_a_close_match_lists_the_valid_keys():
    message = unknown_key_message("donut.attack.zzz", ["batch_events", "engine", "params", "target"])
    assert message == ("config donut.attack.zzz: unknown key 'zzz' in donut.attack; valid keys in donut.attack: "
                       "batch_events, engine, params, target")


def test_every_unknown_key_is_reported_and_free_form_maps_are_not():
    schema = yaml.safe_load(SCHEMA.read_text())
    cfg = config_with(donut={"runs": 2, "foo": 1, "attack": {"params": {"bar": 2}}},
                      custom={"data": {"units": {"px": "GeV"}}})  # units: any feature name
    assert sorted(path for path, _ in unknown_keys(cfg, schema)) == ["donut.attack.params.bar", "donut.foo"]
    assert unknown_keys(yaml.safe_load((ROOT / ".test" / "config.yaml").read_text()), schema) == []


@pytest.mark.parametrize("blocks,expected", [
    ({"donut": {"runs": 0}}, "config donut.runs: 0 is less than the minimum of 1"),
    ({"donut": {"training": {"max_epochs": "four"}}}, "config donut.training.max_epochs: 'four' is not of type 'integer'"),
    ({"datasets": ["donut", "higs"]}, "config datasets[1]: 'higs' is not one of ['donut', 'higgs', 'ttww', 'custom']"),
    # anyOf (null or an attack block): the error inside the block, not "is not of type 'null'"
    ({"donut": {"adversarial_training": {"test_attack": {"params": {"min_change": 2}}}}},
     "config donut.adversarial_training.test_attack.params.min_change: 2 is greater than the maximum of 1"),
    ({"donut": {"adversarial_training": {"test_attack": 3}}},
     "config donut.adversarial_training.test_attack: 3 is not of type 'null', 'object'"),
    ({"donut": {"adversarial_training": {"train_attack": {"params": {"alpha": [1.0, 2.0, 3.0]}}}}},
     "config donut.adversarial_training.train_attack.params.alpha: [1.0, 2.0, 3.0] is too long"),
])
def test_other_validation_errors_are_one_line_with_the_key(blocks, expected):
    message = error_of(config_with(**blocks))
    assert message == expected
    assert "\n" not in message and "schema" not in message


def test_snakemake_prints_a_few_lines_for_a_typo(tmp_path):
    """The whole terminal output of a run with a typo: short, naming the key (was 2,841 lines)."""
    wd = copy_workflow(tmp_path)
    (wd / "typo.yaml").write_text("donutt:\n  runs: 2\n")
    proc = smk(wd, "-n", "--configfile", "typo.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config donutt: unknown key 'donutt' at the top level; did you mean donut?" in out
    assert len(out.splitlines()) < 15, out


@pytest.mark.parametrize("blocks,expected", [
    ({"donut": {"attack": {"params": {"rule": "referense"}}}},
     "donut.attack.params.rule"),
    ({"donut": {"attack": {"params": {"n_chunks": 2}}}},
     "config donut.attack.params.n_chunks: a parameter of rule 'reference', but donut.attack.params.rule is 'exact'"),
    ({"donut": {"attack": {"params": {"rule": "reference", "n_chunks": 0}}}}, "donut.attack.params.n_chunks"),
    ({"donut": {"attack": {"params": {"rule": "reference", "n_chunks": 3}}}},
     "config donut.attack.params.n_chunks: 3 chunks for 2 features; at most 2"),
    ({"donut": {"attack": {"params": {"rule": "reference", "optimize_already_fooled": True}}}},
     "config donut.attack.params.optimize_already_fooled: not part of rule 'reference'"),
])
def test_attack_rule_mistakes_stop_before_any_job(blocks, expected):
    assert expected in error_of(config_with(**blocks))


def test_rule_defaults_stay_out_of_the_rules_params():
    # rules re-run when their params change: a configuration that never names a rule keeps the
    # params it had before the rule parameters existed; a reference rule is passed on whole
    checked = checked_config(config_with(), SCHEMA)
    assert "rule" not in checked["donut"]["attack"]["params"] and "n_chunks" not in checked["donut"]["attack"]["params"]
    checked = checked_config(config_with(donut={"attack": {"params": {"rule": "reference"}},
                                                "rule_comparison": {"enabled": False}}), SCHEMA)
    assert checked["donut"]["attack"]["params"]["rule"] == "reference"
    assert checked["donut"]["attack"]["params"]["n_chunks"] == 1


@pytest.mark.parametrize("blocks,expected", [
    ({"donut": {"rule_comparison": {"n_chunks": [1, 0]}}},
     "config donut.rule_comparison.n_chunks[1]: 0 is less than the minimum of 1"),
    ({"donut": {"rule_comparison": {"n_chunks": []}}}, "config donut.rule_comparison.n_chunks: [] should be non-empty"),
    ({"donut": {"rule_comparison": {"n_chunks": [4, 4]}}},
     "config donut.rule_comparison.n_chunks: [4, 4] has non-unique elements"),
    ({"donut": {"rule_comparison": {"n_chunks": [2.5]}}},
     "config donut.rule_comparison.n_chunks[0]: 2.5 is not of type 'integer'"),
    ({"donut": {"rule_comparison": {"runs": 0}}}, "config donut.rule_comparison.runs: 0 is less than the minimum of 1"),
    ({"donut": {"rule_comparison": {"chunks": [1]}}},
     "config donut.rule_comparison.chunks: unknown key 'chunks' in donut.rule_comparison; did you mean n_chunks?"),
    ({"donut": {"attack": {"params": {"rule": "reference"}}}},
     "config donut.rule_comparison.enabled: compares donut.attack under the exact rule with the reference rule, but "
     "donut.attack.params.rule is 'reference'; use rule: exact there, or enabled: false"),
    ({"donut": {"attack": {"params": {"use_disco": True}}}},
     "config donut.rule_comparison.enabled: donut.attack.params.use_disco is not part of rule 'reference'; set it to "
     "false, or enabled: false"),
])
def test_rule_comparison_mistakes_stop_before_any_job(blocks, expected):
    cfg = config_with(**blocks)
    cfg["donut"].setdefault("rule_comparison", {})["enabled"] = True
    assert error_of(cfg) == expected


@pytest.mark.parametrize("blocks,expected", [
    ({"donut": {"attack": {"params": {"constraints": "calibrated", "max_jsd_single_change": 0.02}}}},
     "config donut.attack.params.max_jsd_single_change: a parameter of constraints 'per_move', but "
     "donut.attack.params.constraints is 'calibrated' (its budgets come from the sample); leave "
     "max_jsd_single_change out or set constraints: per_move"),
    ({"donut": {"attack": {"params": {"calibration_z": 2.0, "max_jsd_single_change": 0.01}}}},
     "config donut.attack.params.calibration_z: a parameter of constraints 'calibrated', but "
     "donut.attack.params.constraints is 'per_move'"),
    ({"donut": {"attack": {"params": {"constraints": "calibrated", "calibration_quantile": 1.0}}}},
     "donut.attack.params.calibration_quantile"),
    ({"donut": {"attack": {"params": {"constraints": "calibrated", "calibration_z": 0}}}},
     "donut.attack.params.calibration_z"),
    ({"donut": {"attack": {"params": {"constraints": "calibrated", "calibration_resamples": 10}}}},
     "donut.attack.params.calibration_resamples"),
    ({"donut": {"attack": {"params": {"constraints": "calibrated", "use_no_change": False}}}},
     "config donut.attack.params.use_no_change: constraints: calibrated needs use_no_change: true"),
    ({"donut": {"attack": {"params": {"constraints": "calibrate"}}}}, "donut.attack.params.constraints"),
])
def test_constraint_mistakes_stop_before_any_job(blocks, expected):
    cfg = config_with(**blocks)
    if "max_jsd_single_change" not in blocks["donut"]["attack"]["params"]:  # config.yaml's per-move limits
        for name in ("max_jsd_single_change", "max_frob_single_change"):
            cfg["donut"]["attack"]["params"].pop(name)
    assert expected in error_of(cfg)


def test_a_calibrated_block_runs_without_the_per_move_limits_the_schema_filled_in():
    cfg = config_with(donut={"attack": {"params": {"constraints": "calibrated"}}, "rule_comparison": {"enabled": False}})
    for name in ("max_jsd_single_change", "max_frob_single_change"):  # config.yaml's; the schema's block has them
        cfg["donut"]["attack"]["params"].pop(name)
    params = checked_config(cfg, SCHEMA)["donut"]["attack"]["params"]
    assert "max_jsd_single_change" not in params and "max_frob_single_change" not in params
    assert params["calibration_resamples"] == 200
    from conservattack.attacks.params import AttackParams

    assert AttackParams.from_config(params).constraints == "calibrated"
    default = checked_config(config_with(), SCHEMA)["donut"]["attack"]["params"]
    assert not {"constraints", "calibration_z", "calibration_quantile", "calibration_resamples"} & set(default)


def test_a_disco_study_attack_takes_calibrated_constraints():
    # the DisCo study sets use_disco by its method; the calibrated budgets then bound dCor (jackknife)
    cfg = config_with(donut={"disco": {"enabled": True, "attack": {"params": {"constraints": "calibrated",
                                                                              "calibration_z": 2.0}}}})
    params = checked_config(cfg, SCHEMA)["donut"]["disco"]["attack"]["params"]
    assert "max_jsd_single_change" not in params and params["calibration_z"] == 2.0
    from conservattack.attacks.params import AttackParams

    p = AttackParams.from_config({**params, "use_disco": True})
    assert p.constraints == "calibrated" and p.use_disco


@pytest.mark.parametrize("blocks,expected", [
    ({"donut": {"rule_comparison": {"enabled": True, "calibrated": {"enabled": True, "quantile": 0}}}},
     "config donut.rule_comparison.calibrated.quantile: 0 is less than or equal to the minimum of 0"),
    ({"donut": {"rule_comparison": {"enabled": True, "calibrated": {"enabled": True, "resamples": 5}}}},
     "config donut.rule_comparison.calibrated.resamples: 5 is less than the minimum of 20"),
    ({"donut": {"rule_comparison": {"enabled": True, "calibrated": {"enabled": True}},
                "attack": {"params": {"use_no_change": False}}}},
     "config donut.rule_comparison.calibrated.enabled: the calibrated constraints need "
     "donut.attack.params.use_no_change: true (docs/method.md section 2.13); change it, or set "
     "donut.rule_comparison.calibrated.enabled: false"),
])
def test_calibrated_comparison_mistakes_stop_before_any_job(blocks, expected):
    assert error_of(config_with(**blocks)) == expected


def test_the_calibrated_attack_keeps_the_grid_and_drops_the_limits():
    from conservattack.studies.rule_comparison import calibrated_params

    params = {"min_change": 0.001, "num_candidates": 150, "alpha": 6.0, "max_jsd_single_change": 0.005,
              "max_frob_single_change": 0.05, "use_no_change": True}
    out = calibrated_params(params, {"resamples": 50, "quantile": 0.9, "z": 2})
    assert out == {"min_change": 0.001, "num_candidates": 150, "alpha": 6.0, "use_no_change": True,
                   "constraints": "calibrated", "calibration_resamples": 50, "calibration_quantile": 0.9,
                   "calibration_z": 2.0}


def test_rule_comparison_chunks_fit_the_features_and_runs_the_dataset():
    cfg = checked_config(config_with(datasets=["donut", "higgs", "custom"],
                                     donut={"rule_comparison": {"n_chunks": [1, 4], "runs": 3}},
                                     higgs={"runs": 4, "rule_comparison": {"n_chunks": [4, 1, 40, 30], "runs": 9}},
                                     custom={"data": {"path": "x.csv", "features": ["p", "q", "r"]},
                                             "rule_comparison": {"n_chunks": [2, 5, 3]}}), SCHEMA)
    assert comparison_chunks(cfg, "donut") == [1]  # two features: one chunk whatever the count
    assert comparison_chunks(cfg, "higgs") == [1, 4, 30]  # 40 and 30 chunks of 30 features: 30, once
    assert comparison_chunks(cfg, "custom") == [2, 3]
    assert comparison_runs(cfg, "donut") == [0, 1, 2] and comparison_runs(cfg, "higgs") == [0, 1, 2, 3]
    assert comparison_runs(cfg, "custom") == [0, 1, 2, 3, 4]  # runs: null, all
    assert cfg["higgs"]["rule_comparison"]["enabled"] is False  # off unless a configuration turns it on
