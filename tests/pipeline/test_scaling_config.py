"""Mistakes in a size-scaling block (``<dataset>.scaling``, docs/method.md section 8.7) stop the
workflow before any job, with a message naming the key."""

from __future__ import annotations

import pytest

from conservattack.pipeline.configschema import checked_config
from paths import ROOT
from snakemake_helpers import copy_workflow, smk

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def checked(dataset: str, **scaling) -> dict:
    return checked_config({"datasets": [dataset], dataset: {"scaling": {"enabled": True, **scaling}}}, SCHEMA)


def error_of(dataset: str, **scaling) -> str:
    with pytest.raises(ValueError) as info:
        checked(dataset, **scaling)
    return str(info.value)


@pytest.mark.parametrize("dataset,scaling,expected", [
    ("higgs", {"sizes": [100, 200, 300, "all"]},
     "config higgs.scaling.sizes: at least 5 sizes are needed for a curve, got 4"),
    ("higgs", {"sizes": [100, 200, 300, 250, "all"]}, "config higgs.scaling.sizes: sizes must be strictly increasing"),
    ("higgs", {"sizes": [100, 200, "all", 300, 400]}, "config higgs.scaling.sizes: 'all' may only be the last size"),
    ("higgs", {"sizes": [1, 200, 300, 400, 500]}, "config higgs.scaling.sizes[0]: 1 is less than the minimum of 2"),
    ("higgs", {"sizes": [100, 200, 300, 400, "al"]}, "config higgs.scaling.sizes[4]: "),
    # the stand-in's test split bounds the attacked set: 250,000 x 0.2
    ("higgs", {"data": "stand-in", "sizes": [1000, 2000, 5000, 10000, 60000]},
     "config higgs.scaling.sizes: size 60000 is larger than the stand-in's test split (50000 events"),
    ("donut", {"sizes": [1000, 2000, 5000, 10000, 30000]},
     "config donut.scaling.sizes: size 30000 is larger than the Donut's test split (20000 events"),
    ("higgs", {"rules": ["exact", "referense"]}, "config higgs.scaling.rules[1]: 'referense' is not one of"),
    ("higgs", {"n_chunks": [0, 4]}, "config higgs.scaling.n_chunks[0]: 0 is less than the minimum of 1"),
    ("higgs", {"n_chunks": [1, 31]}, "config higgs.scaling.n_chunks: 31 chunks for 30 features; at most 30"),
    ("ttww", {"n_chunks": [88]}, "config ttww.scaling.n_chunks: 88 chunks for 87 features; at most 87"),
    ("donut", {"data": "stand-in"}, "config donut.scaling.data: the stand-in exists for higgs only"),
    ("higgs", {"data": "standin"}, "config higgs.scaling.data: 'standin' is not one of ['dataset', 'stand-in']"),
    ("higgs", {"run": 10}, "config higgs.scaling.run: run 10 does not exist; higgs.runs is 10"),
    ("higgs", {"attack": {"params": {"min_change": 0.001, "rule": "reference"}}},
     "config higgs.scaling.attack.params.rule: set by the study"),
])
def test_scaling_mistakes_name_the_key(dataset, scaling, expected):
    message = error_of(dataset, **scaling)
    assert expected in message, message
    assert "\n" not in message


def test_a_valid_block_is_filled_in():
    block = checked("higgs", data="stand-in")["higgs"]["scaling"]
    assert block["sizes"] == [250, 500, 1000, 2000, "all"] and block["rules"] == ["exact", "reference"]
    assert block["n_chunks"] == [1, 4] and block["attack"] is None
    assert block["stand_in"] == {"events": 250000, "bandwidth_factor": 1.0, "atom_fraction": 0.01}
    # a disabled block is inert; the scaling configurations pass
    checked_config({"datasets": ["higgs"], "higgs": {"scaling": {"sizes": [10, 20]}}}, SCHEMA)
    import yaml

    for name in ("scaling_higgs", "scaling_ttww"):
        cfg = yaml.safe_load((ROOT / "resources" / "configs" / f"{name}.yaml").read_text())
        dataset = cfg["datasets"][0]
        assert checked_config(cfg, SCHEMA)[dataset]["scaling"]["enabled"]


def test_the_target_without_an_enabled_study_says_so(tmp_path):
    wd = copy_workflow(tmp_path)
    proc = smk(wd, "scaling", "-n", "--configfile", ".test/config.yaml", check=False)
    assert proc.returncode != 0
    assert "target scaling: no dataset of ['donut'] sets scaling.enabled: true" in proc.stdout + proc.stderr
