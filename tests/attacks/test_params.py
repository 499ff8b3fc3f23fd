"""One source for each parameter fact: AttackParams, its checks and the config schema's attack
blocks all come from attacks.params.PARAMETERS; the engine names from attacks.engines.ENGINES."""

import dataclasses

import pytest
import yaml

from conservattack.attacks.engines import ENGINES
from conservattack.attacks.params import PARAMETERS, REQUIRED, AttackParams, ParameterError, schema_properties
from paths import ROOT

SCHEMA = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())


def test_the_dataclass_is_the_table():
    assert [f.name for f in dataclasses.fields(AttackParams)] == [p.name for p in PARAMETERS]
    for f, p in zip(dataclasses.fields(AttackParams), PARAMETERS):
        if p.default is REQUIRED:
            assert f.default is dataclasses.MISSING
        else:
            assert f.default == p.default
        assert f"{p.name} : " in AttackParams.__doc__ and p.description in AttackParams.__doc__


@pytest.mark.parametrize("ranges, where", [(False, "attack"), (True, "attack_ranges")])
def test_config_schema_declares_the_table(ranges, where):
    declared = SCHEMA["$defs"][where]["properties"]["params"]
    expected = schema_properties(ranges)
    assert declared["properties"] == expected, (
        f"workflow/schemas/config.schema.yaml $defs.{where}.params differs from attacks.params.PARAMETERS; "
        "write there what conservattack.attacks.params.schema_properties() returns")
    assert declared["required"] == [p.name for p in PARAMETERS if p.default is REQUIRED]


@pytest.mark.parametrize("where", ["attack", "attack_ranges"])
def test_config_schema_names_the_engines(where):
    assert tuple(SCHEMA["$defs"][where]["properties"]["engine"]["enum"]) == ENGINES


@pytest.mark.parametrize("p", [p for p in PARAMETERS if p.minimum is not None or p.maximum is not None],
                         ids=lambda p: p.name)
def test_limits_of_the_table_are_enforced(p):
    base = {"min_change": 0.01, "step": 0.01}
    if p.name == "num_candidates":
        base.pop("step")
    cast = int if p.kind == "integer" else float
    if p.minimum is not None:
        below = p.minimum if p.exclusive_minimum else cast(p.minimum - 1)
        with pytest.raises(ParameterError, match=p.name):
            AttackParams(**{**base, p.name: below})
    if p.maximum is not None:
        above = p.maximum if p.exclusive_maximum else cast(p.maximum + 1)
        with pytest.raises(ParameterError, match=p.name):
            AttackParams(**{**base, p.name: above})


def test_booleans_and_kinds_are_enforced():
    for p in PARAMETERS:
        wrong = "yes" if p.kind == "boolean" else True  # a bool is not a number here
        args = {"min_change": 0.01, "step": 0.01, p.name: wrong}
        with pytest.raises(ParameterError, match=p.name):
            AttackParams(**args)


def test_rule_parameters_are_checked():
    with pytest.raises(ParameterError, match=r"'rule' must be one of \['exact', 'reference'\].*did you mean 'reference'"):
        AttackParams(min_change=0.01, step=0.01, rule="referense")
    with pytest.raises(ParameterError, match="'n_chunks' belongs to rule 'reference', but rule is 'exact'"):
        AttackParams(min_change=0.01, step=0.01, n_chunks=2)
    with pytest.raises(ParameterError, match="'n_chunks' must be >= 1"):
        AttackParams(min_change=0.01, step=0.01, rule="reference", n_chunks=0)
    for name in ("optimize_already_fooled", "use_disco"):
        with pytest.raises(ParameterError, match=f"'{name}' is not part of rule 'reference'"):
            AttackParams(min_change=0.01, step=0.01, rule="reference", **{name: True})
    assert AttackParams(min_change=0.01, step=0.01, rule="reference", n_chunks=3).n_chunks == 3
