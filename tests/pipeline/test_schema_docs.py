"""Every configuration key is documented in workflow/schemas/config.schema.yaml: a description and a
default (its own, or the enclosing block's default that spells it out), and every default is valid
against its key's schema."""

from __future__ import annotations


import copy

import jsonschema
import pytest
import yaml

from conservattack.pipeline.configschema import resolve as resolve_ref
from conservattack.pipeline.configschema import check_attack_modes, check_splits, checked_config, with_block_defaults
from paths import ROOT

SCHEMA = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
DEFS = SCHEMA.get("$defs", {})
ABSENT = object()


def resolve(node: dict) -> dict:
    return resolve_ref(node, DEFS)


def config_keys(node: dict, path: str = "", inherited=None):
    """(dotted key, resolved schema, its own node, default or ABSENT) of every configuration key.

    ``inherited`` is the enclosing block's default: a key without a default of its own takes its
    value from there. Keys inside a block whose default is null (an optional block, off unless
    given) have no default to document.
    """
    node = resolve(node)
    for branch in node.get("oneOf", []) + node.get("anyOf", []) + node.get("allOf", []):
        yield from config_keys(branch, path, inherited)
    for name, own in node.get("properties", {}).items():
        schema = resolve(own)
        key = f"{path}.{name}" if path else name
        if "default" in schema:
            default = schema["default"]
        elif isinstance(inherited, dict):
            default = inherited.get(name, ABSENT)
        else:
            default = None if inherited is None and path else ABSENT
        yield key, schema, own, default
        yield from config_keys(schema, key, default if default is not ABSENT else {})


KEYS = list(config_keys(SCHEMA))


def test_the_schema_has_keys():
    names = {key for key, *_ in KEYS}
    assert {"seed", "datasets", "donut.runs", "donut.attack.params.alpha"} <= names


def test_every_key_has_a_description_and_a_default():
    undocumented = [key for key, schema, _, _ in KEYS if not str(schema.get("description", "")).strip()]
    no_default = [key for key, _, _, default in KEYS if default is ABSENT]
    assert not undocumented, f"keys without a description: {undocumented}"
    assert not no_default, f"keys without a default (own or the enclosing block's): {no_default}"


def test_defaults_are_valid():
    invalid = []
    for key, schema, _, _ in KEYS:
        if "default" in schema:
            validator = jsonschema.Draft202012Validator({**schema, "$defs": DEFS})
            invalid += [f"{key}: {e.message}" for e in validator.iter_errors(schema["default"])]
    assert not invalid, "defaults that their own schema rejects:\n" + "\n".join(invalid)


def validated(config: dict) -> dict:
    """``config`` as the Snakefile applies it (configschema.checked_config)."""
    return checked_config(config, ROOT / "workflow" / "schemas" / "config.schema.yaml")


def holds(value, expected) -> bool:
    """``value`` has every key of ``expected`` with the same value (dictionaries: recursively);
    validation may have added keys of its own."""
    if isinstance(expected, dict):
        return isinstance(value, dict) and all(k in value and holds(value[k], v) for k, v in expected.items())
    return value == expected


def block_default(dataset: str, block: str) -> dict:
    return resolve(SCHEMA["properties"][dataset]["properties"][block])["default"]


@pytest.mark.parametrize("dataset, iterations", [("higgs", 10), ("ttww", 5)])
def test_a_block_given_in_part_keeps_its_documented_defaults(dataset, iterations):
    spec = block_default(dataset, "adversarial_training")
    assert spec["iterations"] == iterations and spec["test_attack"]["params"]["alpha"] == 8.0
    cfg = validated({"datasets": [dataset], dataset: {"adversarial_training": {"attack_events": 500}}})
    block = cfg[dataset]["adversarial_training"]
    assert block["attack_events"] == 500 and block["iterations"] == iterations
    assert holds(block["test_attack"], spec["test_attack"]) and holds(block["train_attack"], spec["train_attack"])
    # nested dictionaries merge key by key; a value (here null) replaces the default
    cfg = validated({"datasets": [dataset], dataset: {"adversarial_training": {"test_attack": {"params": {"alpha": 2.0}}}}})
    assert holds(cfg[dataset]["adversarial_training"]["test_attack"]["params"],
                 {**spec["test_attack"]["params"], "alpha": 2.0})
    cfg = validated({"datasets": [dataset], dataset: {"adversarial_training": {"test_attack": None}}})
    assert cfg[dataset]["adversarial_training"]["test_attack"] is None


def test_block_defaults_change_nothing_in_a_complete_config():
    full = validated(yaml.safe_load((ROOT / "config.yaml").read_text()))
    assert with_block_defaults(copy.deepcopy(full), SCHEMA) == full


def test_integral_floats_become_ints_where_an_integer_is_asked_for():
    """YAML 3.0 or 5.0e+4 passes JSON-schema's integer check; the workflow then needs a real int
    (range(runs), the attack's num_bins), so it gets one. Numbers that may be fractional stay."""
    cfg = validated(yaml.safe_load("""
donut:
  runs: 3.0
  generate: {n_signal: 5.0e+4}
  attack: {params: {num_bins: 30.0, alpha: 4.0, n_iterations: 2.0}}
  adversarial_training: {iterations: 2.0, attack_events: 1.0e+3}
"""))
    d = cfg["donut"]
    for value in (d["runs"], d["generate"]["n_signal"], d["attack"]["params"]["num_bins"],
                  d["attack"]["params"]["n_iterations"], d["adversarial_training"]["iterations"],
                  d["adversarial_training"]["attack_events"]):
        assert type(value) is int
    assert d["runs"] == 3 and d["generate"]["n_signal"] == 50_000
    assert type(d["attack"]["params"]["alpha"]) is float
    with pytest.raises(Exception, match="2.5 is not of type 'integer'"):
        validated({"donut": {"runs": 2.5}})


def test_split_fractions_must_sum_to_one():
    check_splits(validated({"donut": {"split": [0.7, 0.15, 0.15]}}))
    with pytest.raises(ValueError, match=r"config donut.split: .* must sum to 1, got \[0.6, 0.3, 0.3\] \(sum 1.2\)"):
        check_splits(validated({"donut": {"split": [0.6, 0.3, 0.3]}}))


def leaves(value, path=()):
    """(path, value) of every non-dictionary value in a nested dictionary."""
    if isinstance(value, dict) and value:
        for key, v in value.items():
            yield from leaves(v, (*path, key))
    else:
        yield path, value


def nested(path, value):
    return {path[0]: nested(path[1:], value)} if path else value


@pytest.mark.slow  # a Snakemake dry run per default: minutes
@pytest.mark.parametrize("dataset", ["donut", "higgs", "ttww", "custom"])
def test_restating_any_default_changes_nothing(dataset):
    """Any one key of a dataset's blocks, given with the value the schema gives it by default,
    yields the very configuration of not giving it (a block's own default is never mixed with
    the shared $defs ones: donut's train_attack has no step, the shared ranges have one)."""
    base = {"datasets": [dataset]}
    if dataset == "custom":
        base["custom"] = {"data": {"path": "events.csv", "features": ["a"], "label": "y"}}
    full = validated(copy.deepcopy(base))
    checked = 0
    for path, value in leaves(full[dataset]):
        cfg = copy.deepcopy(base)
        cfg[dataset] = merged_over(cfg.get(dataset, {}), nested(path, copy.deepcopy(value)))
        assert validated(cfg) == full, ".".join((dataset, *path))
        checked += 1
    assert checked > 30


def merged_over(block, patch):
    out = copy.deepcopy(block)
    for key, v in patch.items():
        out[key] = merged_over(out[key], v) if isinstance(v, dict) and isinstance(out.get(key), dict) else v
    return out


def test_a_grid_step_on_a_random_mode_block_is_an_error():
    """Donut's attack is in random mode (num_candidates 150): a partial block that gives a step
    meant the grid, and would run in random mode ignoring it."""
    for dataset in ("donut", "higgs", "ttww"):
        check_attack_modes(validated({"datasets": [dataset]}))  # the defaults are consistent
    check_attack_modes(validated({"donut": {"attack": {"params": {"num_candidates": None, "step": 0.002}}}}))
    with pytest.raises(ValueError, match=r"config donut.attack.params: step 0.002 is the grid spacing, but "
                                         r"num_candidates 150 selects random mode"):
        check_attack_modes(validated({"donut": {"attack": {"params": {"min_change": 0.001, "step": 0.002}}}}))
