"""The whole TT vs WW jet path of the workflow on toy ROOT files written here with uproot:
CERN Open Data downloads from a loopback portal -> clustering -> TopoDNN inputs -> split ->
training -> attack -> cross-run matrix -> detector study with the SingleMu-style real data ->
figures; the indexed and jagged layouts through the data rules; bad input named in the logs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conservattack.data.jets import topodnn_feature_names
from conservattack.data.preprocessing import MinMaxScaler
from jet_toys import reader_config, toy_events, write_events
from opendata_portal import FakePortal
from snakemake_helpers import ROOT, copy_workflow, smk

pytestmark = pytest.mark.slow
FEATURES = topodnn_feature_names(30)


def write_config(wd: Path, ttww: dict) -> str:
    cfg = yaml.safe_load((ROOT / ".test" / "ttww.yaml").read_text())
    for key, value in ttww.items():
        cfg["ttww"][key] = {**cfg["ttww"].get(key, {}), **value} if isinstance(value, dict) else value
    (wd / "test_ttww.yaml").write_text(yaml.safe_dump(cfg))
    return "test_ttww.yaml"


def toy_files(folder: Path, layout: str) -> dict[str, list[Path]]:
    """Toy samples in one layout: tt (top-like jets) 2 x 2 files of 110 events, ww (W-like) 2
    files of 220, real (SingleMu-like mixture of top, W and QCD jets) 2 files of 60."""
    plan = {"tt": (["top"], [110] * 4), "ww": (["w"], [220, 220]), "real": (["top", "w", "qcd", "qcd"], [60, 60])}
    out = {}
    for s, (name, (kinds, sizes)) in enumerate(plan.items()):
        out[name] = [write_events(folder / name / f"{name}{k}.root",
                                  toy_events(n, kinds, seed=10 * s + k, single_constituent=2), layout, seed=k)
                     for k, n in enumerate(sizes)]
    return out


def test_ttww_whole_path_from_open_data_records(tmp_path):
    wd = copy_workflow(tmp_path)
    files = toy_files(tmp_path / "toys", "clustered")
    with FakePortal() as portal:
        portal.add_record(9582, "TTJets_HadronicMGDecays", {p.name: p.read_bytes() for p in files["tt"][:2]})
        portal.add_record(9602, "TTJets_SemiLeptMGDecays", {p.name: p.read_bytes() for p in files["tt"][2:]})
        portal.add_record(9971, "WWJetsTo2L2Nu", {p.name: p.read_bytes() for p in files["ww"]}, n_txt=2)
        portal.add_record(6021, "SingleMu_Run2012B", {files["real"][0].name: files["real"][0].read_bytes()})
        portal.add_record(6047, "SingleMu_Run2012C", {files["real"][1].name: files["real"][1].read_bytes()})
        cfg = write_config(wd, {"opendata": {"server": portal.server}})
        smk(wd, "--configfile", cfg)
        fetched = {p for p, _ in portal.requests if p.startswith("/eos/")}
    # first file of each record (n_files = 1), verified against the JSON index
    assert fetched == {f"/eos/opendata/cms/{d}/AODSIM/{n}" for d, n in [
        ("TTJets_HadronicMGDecays", "tt0.root"), ("TTJets_SemiLeptMGDecays", "tt2.root"),
        ("WWJetsTo2L2Nu", "ww0.root"), ("SingleMu_Run2012B", "real0.root"), ("SingleMu_Run2012C", "real1.root")]}
    manifest = json.loads((wd / "resources/data/ttww/tt/manifest.json").read_text())
    assert [m["record"] for m in manifest["records"]] == [9582, 9602]
    assert all(f["verified"] for m in manifest["records"] for f in m["files"])
    d = wd / "results" / "ttww"
    data = json.loads((d / "data" / "data.json").read_text())
    assert data["features"] == FEATURES and len(FEATURES) == 87
    for name, n in (("tt", 220), ("ww", 220)):
        s = data["samples"][name]
        assert s["events"] == n and s["kept"] + s["dropped_few_constituents"] == s["jets_read"] <= n
        assert s["kept"] >= n - 6 and s["jet_pt_median_gev"] > 300
    assert sum(c["events"] for c in data["counts"].values()) == data["samples"]["tt"]["kept"] + \
        data["samples"]["ww"]["kept"]
    train = pd.read_parquet(d / "data" / "train.parquet")
    scaler = MinMaxScaler.load(d / "data" / "scaler.json")
    active = [f for f in FEATURES if f not in data["constant_features"]]
    assert train[active].min().min() == 0.0 and train[active].max().max() == 1.0
    assert set(train.label) == {0, 1}
    # real data: read and preprocessed like the simulation, scaled with its scaler
    real_raw = pd.read_parquet(d / "real" / "singlemu.parquet")
    real = pd.read_parquet(d / "data" / "real.parquet")
    assert list(real_raw.columns[:87]) == FEATURES and len(real) == len(real_raw) > 100
    np.testing.assert_allclose(real[FEATURES].to_numpy(), scaler.transform(real_raw[FEATURES]), atol=1e-12)
    acceptance = pd.read_csv(d / "detector" / "acceptance.csv")
    assert set(acceptance["sample"]) == {"simulated", "real"}
    comparison = pd.read_csv(d / "detector" / "real_vs_simulated.csv")
    assert list(comparison.run) == [0, 1] and (comparison.n_real == len(real)).all()
    assert "real" in (d / "verdict.md").read_text().lower()
    summary = pd.read_csv(d / "summary.csv").set_index("metric")
    assert summary.loc["fooling_ratio", "paper"] == pytest.approx(0.675)
    assert 0 <= summary.loc["fooling_ratio", "ours_mean"] <= 1 and summary.loc["fooling_ratio", "n_runs"] == 2
    meta = json.loads((d / "runs" / "run0" / "attack" / "attack.json").read_text())
    assert meta["n_targeted"] > 50
    for fig in ("marginals", "correlation_matrices", "metrics_per_run", "cross_run_fooling", "clean_acceptance"):
        assert (d / "figures" / f"{fig}.pdf").stat().st_size > 1000
    # nothing left to do, and the portal is gone: the downloads are not needed again
    assert "Nothing to be done" in smk(wd, "-n", "--configfile", cfg).stdout


@pytest.mark.parametrize("layout", ["indexed", "jagged"])
def test_local_files_in_the_other_layouts(tmp_path, layout):
    wd = copy_workflow(tmp_path)
    files = toy_files(tmp_path / "toys", layout)
    reader = {**reader_config(layout), "ptmin": 100.0}
    if layout == "jagged":
        reader["branches"] = {**reader["branches"], "mass": None}
    cfg = write_config(wd, {"reader": reader, "samples": {"tt": {"local_files": str(tmp_path / "toys" / "tt")},
                                                          "ww": {"local_files": [str(p) for p in files["ww"]]}},
                            "real": {"local_files": str(files["real"][0]), "max_jets": 40}})
    smk(wd, "results/ttww/data/data.json", "results/ttww/real/singlemu.parquet", "--configfile", cfg)
    d = wd / "results" / "ttww"
    data = json.loads((d / "data" / "data.json").read_text())
    tt, ww = data["samples"]["tt"], data["samples"]["ww"]
    assert tt["events"] == 440 and ww["events"] == 440
    # two one-constituent main jets per file are dropped (min_constituents = 2), the rest kept
    assert tt["dropped_few_constituents"] == 8 and tt["kept"] == 432
    assert ww["dropped_few_constituents"] == 4 and ww["kept"] == 436
    real = pd.read_parquet(d / "real" / "singlemu.parquet")
    assert len(real) == 40 and json.loads((d / "real" / "singlemu.json").read_text())["sample"]["cut_by_max_jets"] == 18
    assert not (wd / "resources" / "data").exists()  # nothing downloaded


def test_bad_input_is_named(tmp_path):
    wd = copy_workflow(tmp_path)
    files = toy_files(tmp_path / "toys", "clustered")
    local = {"samples": {"tt": {"local_files": str(tmp_path / "toys" / "tt")},
                         "ww": {"local_files": str(tmp_path / "toys" / "ww")}}}
    reader = reader_config("clustered")
    cfg = write_config(wd, {**local, "reader": {**reader, "branches": {**reader["branches"], "pt": "PFCands_pT"}}})
    proc = smk(wd, "results/ttww/data/data.json", "--configfile", cfg, check=False)
    assert proc.returncode != 0
    log = (wd / "results" / "ttww" / "logs" / "prepare.log").read_text()
    # inputs are named relative to the working directory (here the toys lie inside it)
    assert f"{files['tt'][0].relative_to(wd)}: tree 'Events' has no branch 'PFCands_pT'; branches present: [" in log
    assert "'PFCands_pt'" in log
    (tmp_path / "toys" / "ww" / "notes.root").write_text("not a ROOT file")
    cfg = write_config(wd, local)
    proc = smk(wd, "results/ttww/data/data.json", "--configfile", cfg, check=False)
    assert proc.returncode != 0
    log = (wd / "results" / "ttww" / "logs" / "prepare.log").read_text()
    assert "toys/ww/notes.root: not a ROOT file (it starts with b'not '" in log
    cfg = write_config(wd, {"samples": {"tt": {"local_files": str(tmp_path / "nowhere")}}})
    proc = smk(wd, "-n", "--configfile", cfg, check=False)
    assert proc.returncode != 0 and "config ttww.samples.tt.local_files" in proc.stdout + proc.stderr
