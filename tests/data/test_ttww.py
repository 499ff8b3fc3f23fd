"""The TT vs WW data library (conservattack.data.ttww): reader configuration from the config blocks,
the common jet selection (ptmin, small jets, max_jets) on toy ROOT files in each layout, labels,
split and scaling, download manifests, and the real CMS PFNano sample read by configuration."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conservattack.data.jets import topodnn_feature_names
from conservattack.data.ttww import (PROVENANCE, config_key, fit_scaler, input_files, local_inputs, prepare_ttww, read_sample, reader_config, sample_config)
from jet_toys import reader_config as toy_reader, toy_events, write_events
from paths import SHARED

PFNANO = SHARED / "data/cms-pfnano-sample/pfnano.root"
CONSTITUENTS = {"n_constituents": 30, "min_constituents": 2, "pt_scale": 1679.16}
DEFAULT_READER = {"kind": "clustered", "tree": "Events", "branches": {}, "jet_index_branch": None,
                  "candidate_index_branch": None, "R": 0.8, "ptmin": 30.0, "jets": "leading",
                  "drop_zero_pt": True, "step_size": "50 MB"}
FEATURES = topodnn_feature_names(30)


def reader(layout: str, **over) -> dict:
    cfg = {**DEFAULT_READER, **toy_reader(layout), **over}
    cfg["branches"] = {"mass": None, **cfg["branches"]}
    return cfg


@pytest.fixture(scope="module")
def toys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ttww_toys")
    events = {"tt": toy_events(60, ["top"], seed=1, single_constituent=3),
              "ww": toy_events(60, ["w"], seed=2, single_constituent=3)}
    return {(name, layout): write_events(folder / f"{name}_{layout}.root", ev, layout)
            for name, ev in events.items() for layout in ("clustered", "indexed", "jagged")}


def test_reader_config_takes_only_the_kinds_parameters():
    c = reader_config(reader("clustered"), CONSTITUENTS)
    assert c == {"reader": "clustered", "tree": "Events", "min_constituents": 2, "step_size": "50 MB",
                 "branches": {"pt": "PFCands_pt", "eta": "PFCands_eta", "phi": "PFCands_phi", "mass": "PFCands_mass"},
                 "R": 0.8, "ptmin": 30.0, "jets": "leading"}
    i = reader_config(reader("indexed"), CONSTITUENTS)
    assert i["candidate_branches"]["pt"] == "PFCands_pt" and i["jet_index_branch"] == "FatJetPFCands_jetIdx"
    assert "R" not in i and "ptmin" not in i
    j = reader_config(reader("jagged"), CONSTITUENTS)
    assert "mass" not in j["branches"] and j["drop_zero_pt"] is True and "jets" not in j
    with pytest.raises(ValueError, match=r"config ttww.reader: kind 'indexed' needs \['candidate_index_branch'\]"):
        reader_config(reader("indexed", candidate_index_branch=None), CONSTITUENTS)
    with pytest.raises(ValueError, match="config ttww.reader.kind must be"):
        reader_config(reader("jagged", kind="nano"), CONSTITUENTS)


def test_layouts_give_the_same_features(toys):
    frames = {}
    for layout in ("clustered", "indexed", "jagged"):
        frames[layout], info = read_sample([toys[("tt", layout)]], reader(layout), CONSTITUENTS, progress=False)
        assert list(frames[layout].columns) == [*FEATURES, *PROVENANCE]
        assert info["kept"] == len(frames[layout]) and info["events"] == 60
    # indexed (jet 0) and jagged hold the same main jets: identical inputs, the 3 small jets dropped
    np.testing.assert_array_equal(frames["indexed"][FEATURES], frames["jagged"][FEATURES])
    assert len(frames["indexed"]) == 57
    # the clustered reader finds the same jets in the other 57 events (plus maybe recoil jets
    # that lead where the main jet is a single constituent)
    c = frames["clustered"].set_index("entry")
    i = frames["indexed"].set_index("entry")
    common = i.index.intersection(c.index)
    assert len(common) == 57
    assert np.median(np.abs(c.loc[common, "jet_pt"] - i.loc[common, "jet_pt"]) / i.loc[common, "jet_pt"]) < 0.02


def test_ptmin_small_jets_and_max_jets_for_every_kind(toys):
    cfg = reader("indexed", jets="all", ptmin=200.0)
    frame, info = read_sample([toys[("ww", "indexed")]], cfg, CONSTITUENTS, progress=False)
    assert info["jets_read"] == 120 and info["dropped_few_constituents"] == 3
    assert info["dropped_below_ptmin"] > 0 and (frame["jet_pt"] >= 200).all()
    assert info["kept"] == 117 - info["dropped_below_ptmin"]
    frame, info = read_sample([toys[("ww", "jagged")]], reader("jagged", ptmin=0.0), CONSTITUENTS, max_jets=10,
                              progress=False)
    assert len(frame) == 10 and info["cut_by_max_jets"] == 47 and list(frame["entry"][:3]) == [3, 4, 5]
    one = {**CONSTITUENTS, "min_constituents": 1}
    frame, info = read_sample([toys[("ww", "jagged")]], reader("jagged"), one, progress=False)
    assert info["dropped_few_constituents"] == 0 and len(frame) == 60
    assert (frame.loc[frame.n_constituents == 1, FEATURES[1:]] == 0).all().all()  # only pt_0 is set
    with pytest.raises(ValueError, match=r"no jet kept from .*: 60 jet\(s\) read, 3 with fewer than 2 constituents, "
                                         r"57 below ptmin = 5000.0 GeV"):
        read_sample([toys[("ww", "jagged")]], reader("jagged", ptmin=5000.0), CONSTITUENTS, progress=False)


def test_prepare_labels_split_and_scaling(toys):
    frames = {name: read_sample([toys[(name, "indexed")]], reader("indexed"), CONSTITUENTS, progress=False)[0]
              for name in ("tt", "ww")}
    out = prepare_ttww(frames, split=(0.6, 0.2, 0.2), seed=3)
    s = out["splits"]
    assert out["features"] == FEATURES
    assert sum(c["events"] for c in out["counts"].values()) == 114
    assert {c["signal"] for c in out["counts"].values()} <= {11, 12, 34, 35}  # stratified: half are TT
    events = pd.concat([s[k].event for k in s])
    assert events.is_unique and sorted(events) == list(range(114))
    const = out["constant_features"]
    active = [f for f in FEATURES if f not in const]
    assert s["train"][active].min().min() == 0.0 and s["train"][active].max().max() == 1.0
    tt = pd.concat([s[k] for k in s]).query("label == 1").sort_values("event")
    np.testing.assert_allclose(out["scaler"].inverse(tt[FEATURES].to_numpy()), frames["tt"][FEATURES], atol=1e-12)
    with pytest.raises(ValueError, match=r"too few jets to split \{'ww': 3\}"):
        prepare_ttww({"tt": frames["tt"], "ww": frames["ww"][:3]})
    with pytest.raises(ValueError, match=r"missing sample\(s\) \['ww'\]"):
        prepare_ttww({"tt": frames["tt"]})


def test_constant_training_feature_gets_a_unit_range():
    train = pd.DataFrame({"a": [0.0, 2.0, 4.0], "b": [0.0, 0.0, 0.0], "c": [3.0, 3.0, 3.0]})
    scaler, constant = fit_scaler(train, ["a", "b", "c"])
    assert constant == ["b", "c"]
    np.testing.assert_allclose(scaler.transform([[2.0, 0.5, 3.0]]), [[0.5, 0.5, 0.0]])


def test_sample_inputs_and_config_keys(tmp_path):
    cfg = {"samples": {"tt": {"records": [9582]}, "ww": {"records": [9971]}}, "real": {"records": [6021]}}
    assert sample_config(cfg, "real") == {"records": [6021]} and sample_config(cfg, "ww")["records"] == [9971]
    assert config_key("tt") == "ttww.samples.tt" and config_key("real") == "ttww.real"
    with pytest.raises(ValueError, match="unknown ttww sample 'zz'"):
        sample_config(cfg, "zz")
    with pytest.raises(ValueError, match="config ttww.samples.ww.local_files: ROOT input .*nowhere does not exist"):
        local_inputs(str(tmp_path / "nowhere"), "ww")
    (tmp_path / "a.root").write_bytes(b"root")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"files": [str(tmp_path / "a.root")]}))
    assert input_files([str(manifest), "x.root"]) == [str(tmp_path / "a.root"), "x.root"]


@pytest.mark.skipif(not PFNANO.is_file(), reason="shared PFNano sample not present")
def test_real_pfnano_file_by_configuration_alone():
    cands = {"pt": "PFCands_pt", "eta": "PFCands_eta", "phi": "PFCands_phi", "mass": "PFCands_mass"}
    fat = {**DEFAULT_READER, "kind": "indexed", "branches": cands, "jet_index_branch": "FatJetPFCands_jetIdx",
           "candidate_index_branch": "FatJetPFCands_pFCandsIdx", "jets": "all", "ptmin": 0.0}
    frame, info = read_sample([PFNANO], fat, CONSTITUENTS, progress=False)
    assert info["events"] == 10 and info["kept"] == len(frame) > 0
    assert list(frame.columns[:87]) == FEATURES and np.isfinite(frame[FEATURES].to_numpy()).all()
    clustered = {**DEFAULT_READER, "branches": cands, "R": 0.8, "ptmin": 200.0}
    frame_c, info_c = read_sample([PFNANO], clustered, CONSTITUENTS, progress=False)
    assert info_c["events"] == 10 and (frame_c["jet_pt"] >= 200).all()
