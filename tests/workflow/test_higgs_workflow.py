"""The Higgs path of the workflow: real shared sample (reduced), synthetic files in the exact
record-328 layout, and the data rule's errors (no network and no local copy; a missing folder)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conservattack.data.higgs import FEATURES
from snakemake_helpers import copy_workflow, planned_jobs, smk
from paths import SHARED

pytestmark = pytest.mark.slow
SAMPLE = SHARED / "data" / "higgs-kaggle-sample"


def write_config(wd: Path, higgs: dict) -> str:
    # long enough for BatchNorm's running statistics (Keras momentum) to settle
    cfg = {"datasets": ["higgs"], "higgs": {"runs": 2, "training": {"max_epochs": 30, "patience": 8},
                                            **higgs}}
    (wd / "test_higgs.yaml").write_text(yaml.safe_dump(cfg))
    return "test_higgs.yaml"


def synthetic_record(path: Path, n: int, seed: int) -> None:
    """A gzipped CSV in the record-328 layout (CRLF), with -999 markers and all KaggleSet values."""
    rng = np.random.default_rng(seed)
    label = rng.random(n) < 0.4
    df = pd.DataFrame({"EventId": np.arange(100000, 100000 + n)})
    for j, f in enumerate(FEATURES):
        df[f] = np.round(rng.gamma(2.0 + j % 3, 20.0, n) + 15.0 * label, 3)
    df["PRI_jet_num"] = rng.integers(0, 4, n).astype(float)
    df.loc[rng.random(n) < 0.15, "DER_mass_MMC"] = -999.0
    df["Weight"] = 0.5
    df["Label"] = np.where(label, "s", "b")
    df["KaggleSet"] = rng.choice(["t", "t", "t", "b", "v", "u"], n)
    df["KaggleWeight"] = 0.7
    with gzip.open(path, "wt", newline="") as fh:
        df.to_csv(fh, index=False, lineterminator="\r\n")


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="shared Higgs sample not present")
def test_reduced_higgs_path_on_the_real_sample(tmp_path):
    wd = copy_workflow(tmp_path)
    cfg = write_config(wd, {"local_files": str(SAMPLE),
                            "attack": {"params": {"min_change": 0.0005, "step": 0.0005, "n_iterations": 2,
                                                  "num_bins": 200, "alpha": 4.0, "beta": 1.0,
                                                  "max_jsd_single_change": 0.006,
                                                  "max_frob_single_change": 0.0002}},
                            "adversarial_training": {"iterations": 2}})
    smk(wd, "--configfile", cfg)
    d = wd / "results" / "higgs"
    data = json.loads((d / "data" / "data.json").read_text())
    assert data["counts"]["train"] == {"events": 5998, "signal": 2999}
    cut = json.loads((d / "restricted" / "cut.json").read_text())
    assert cut["feature"] == "DER_mass_MMC" and cut["signal_side"] == "above"
    assert 80 < cut["threshold"] < 130 and cut["accuracy"] > 0.65
    assert "numba" in cut["versions"]
    summary = pd.read_csv(d / "summary.csv").set_index("metric")
    assert summary.loc["fooling_ratio", "paper"] == pytest.approx(0.89)
    assert summary.loc["fooling_ratio_sr", "ours_mean"] > summary.loc["fooling_ratio_cr", "ours_mean"]
    assert summary.index.is_unique
    # adversarial training with the paper's test row and ranges, beside the paper's grey-box numbers
    assert summary.loc["advtrain_grey_box_best", "paper"] == pytest.approx(0.15)
    assert 0 <= summary.loc["advtrain_grey_box_best", "ours_mean"] <= summary.loc["advtrain_grey_box_mean", "ours_mean"]
    assert summary.loc["advtrain_white_box_base", "ours_mean"] > 0
    for fig in ("marginals", "correlation_matrices", "metrics_per_run", "restricted_fooling", "restricted_jsd_fn",
                "adversarial_training"):
        assert (d / "figures" / f"{fig}.pdf").stat().st_size > 1000


def test_synthetic_record_layout_gives_split_and_cut(tmp_path):
    wd = copy_workflow(tmp_path)
    synthetic_record(wd / "record.csv.gz", 3000, seed=1)
    cfg = write_config(wd, {"local_files": str(wd / "record.csv.gz"), "missing_policy": "shift"})
    smk(wd, "results/higgs/restricted/cut.json", "--configfile", cfg)
    d = wd / "results" / "higgs"
    meta = json.loads((d / "data" / "data.json").read_text())
    n_t = sum(meta["counts"][s]["events"] for s in ("train", "val", "test"))
    raw = pd.read_csv(wd / "record.csv.gz")
    assert n_t == (raw.KaggleSet == "t").sum()
    assert meta["missing"]["policy"] == "shift" and "DER_mass_MMC" in meta["missing"]["replacement"]
    train = pd.read_parquet(d / "data" / "train.parquet")
    assert list(train.columns[:30]) == FEATURES
    assert train[FEATURES].min().min() == 0.0 and train[FEATURES].max().max() == 1.0
    assert json.loads((d / "restricted" / "cut.json").read_text())["feature"] in FEATURES


def test_no_network_and_no_local_copy_names_both_ways_out(tmp_path):
    wd = copy_workflow(tmp_path)
    cfg = write_config(wd, {"download": {"urls": ["http://127.0.0.1:9/atlas.csv.gz"], "retries": 0, "timeout": 2,
                                         "dest": "resources/data/higgs/atlas.csv.gz"}})
    proc = smk(wd, "resources/data/higgs/atlas.csv.gz", "--configfile", cfg, check=False)
    assert proc.returncode != 0
    log = (wd / "results" / "higgs" / "logs" / "download.log").read_text()
    assert "enable network access" in log and "higgs.local_files" in log
    assert not (wd / "resources" / "data" / "higgs" / "atlas.csv.gz").exists()


def test_edited_library_keeps_the_verified_download(tmp_path):
    # the download rule's script and library are ancient inputs: editing them (a git pull) must not
    # re-run the rule, which would delete the verified file first (and need the network again)
    import zlib

    wd = copy_workflow(tmp_path)
    source = tmp_path / "record.csv.gz"
    synthetic_record(source, 50, seed=3)
    data = source.read_bytes()
    cfg = write_config(wd, {"download": {"urls": [source.as_uri()], "dest": "resources/data/higgs/atlas.csv.gz",
                                         "size": len(data), "adler32": f"{zlib.adler32(data):08x}"}})
    smk(wd, "resources/data/higgs/atlas.csv.gz", "--configfile", cfg)  # file: URLs are sources too
    assert (wd / "resources" / "data" / "higgs" / "atlas.csv.gz").read_bytes() == data
    for module in ("pipeline/runlog.py", "data/fetch/download.py", "__init__.py"):
        path = wd / "workflow" / "lib" / "conservattack" / module
        path.write_text(path.read_text() + "\n# edited\n")
    assert planned_jobs(wd, "resources/data/higgs/atlas.csv.gz", "--configfile", cfg) == {}
    # and the rule's own script: the profiles leave out Snakemake's code trigger
    script = wd / "scripts" / "download_higgs.py"
    script.write_text(script.read_text() + "\n# edited\n")
    assert planned_jobs(wd, "resources/data/higgs/atlas.csv.gz", "--configfile", cfg) == {}


def test_missing_local_folder_is_named(tmp_path):
    wd = copy_workflow(tmp_path)
    cfg = write_config(wd, {"local_files": str(tmp_path / "nowhere")})
    proc = smk(wd, "-n", "--configfile", cfg, check=False)
    assert proc.returncode != 0
    assert "config higgs.local_files" in proc.stdout + proc.stderr and "nowhere" in proc.stdout + proc.stderr
