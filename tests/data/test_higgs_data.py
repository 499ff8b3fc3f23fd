"""Higgs challenge CSV reading (layouts, encodings, every bad input), the -999.0 policies, the
prepared split; on small synthetic files and on the real shared sample where it is present."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conservattack.data.higgs import FEATURES, LABEL_MAP, MISSING_POLICIES, prepare_higgs, read_higgs, treat_missing
from conservattack.data.preprocessing import SPLITS
from paths import SHARED

SAMPLE = SHARED / "data/higgs-kaggle-sample"
RECORD_328 = ["EventId", *FEATURES, "Weight", "Label", "KaggleSet", "KaggleWeight"]
TRAINING_CSV = ["EventId", *FEATURES, "Weight", "Label"]


def events(n: int, seed: int = 0, first_id: int = 100_000, kaggle_sets="tbvu") -> pd.DataFrame:
    """Synthetic events in the record 328 layout; jet variables -999.0 where PRI_jet_num says so."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(60.0, 25.0, size=(n, len(FEATURES))).round(3), columns=FEATURES)
    df["PRI_jet_num"] = rng.integers(0, 4, n).astype(float)
    df.loc[rng.random(n) < 0.15, "DER_mass_MMC"] = -999.0
    df.loc[df.PRI_jet_num < 1, ["PRI_jet_leading_pt", "PRI_jet_leading_eta"]] = -999.0
    df.insert(0, "EventId", first_id + rng.permutation(n))  # files need not be in event order
    df["Weight"] = rng.uniform(0.001, 2.0, n).round(6)
    df["Label"] = np.where(rng.random(n) < 0.4, "s", "b")
    df["KaggleSet"] = np.array(list(kaggle_sets))[np.arange(n) % len(kaggle_sets)]
    df["KaggleWeight"] = df["Weight"] * 1.5
    return df


def write_csv(path: Path, df: pd.DataFrame, columns=None, *, gz=False, crlf=False,
              cells: dict | None = None) -> Path:
    """Write ``df`` (its ``columns``) as CSV text by hand; ``cells`` {(row, column): text} overrides."""
    columns = list(df.columns) if columns is None else columns
    rows = [[str(v) for v in r] for r in df[columns].itertuples(index=False)]
    for (i, c), text in (cells or {}).items():
        rows[i][columns.index(c)] = text
    eol = "\r\n" if crlf else "\n"
    data = (eol.join([",".join(columns), *(",".join(r) for r in rows)]) + eol).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("crlf", [False, True])
def test_reads_record_328_layout(tmp_path, gz, crlf):
    raw = events(40, seed=1)
    df = read_higgs(write_csv(tmp_path / "h.csv", raw, gz=gz, crlf=crlf))  # gzip found by magic bytes
    want = raw[raw.KaggleSet == "t"].sort_values("EventId")
    assert list(df.columns) == [*FEATURES, "label", "event", "weight"]
    assert len(df) == 10 and df["event"].tolist() == want["EventId"].tolist()
    assert (df.dtypes[FEATURES] == np.float64).all() and df["label"].dtype == df["event"].dtype == np.int64
    np.testing.assert_array_equal(df[FEATURES].to_numpy(), want[FEATURES].to_numpy())
    np.testing.assert_array_equal(df["label"], want["Label"].map(LABEL_MAP))
    np.testing.assert_array_equal(df["weight"], want["Weight"])
    assert (df[FEATURES] == -999.0).to_numpy().any()


def test_reads_kaggle_training_layout_and_folders(tmp_path):
    a, b = events(12, seed=2, first_id=0), events(9, seed=3, first_id=500)
    write_csv(tmp_path / "b_train.csv", a, TRAINING_CSV, crlf=True)  # no KaggleSet: every row kept
    write_csv(tmp_path / "a.csv.gz", b, TRAINING_CSV)  # plain text despite the suffix
    write_csv(tmp_path / "c.csv", b.assign(EventId=b.EventId + 1000), TRAINING_CSV, gz=True)
    (tmp_path / "notes.txt").write_text("not read")
    df = read_higgs(tmp_path)
    assert len(df) == 30 and df["event"].is_monotonic_increasing
    assert set(df["event"]) == {*a.EventId, *b.EventId, *(b.EventId + 1000)}
    assert df.equals(read_higgs([tmp_path / "c.csv", str(tmp_path / "a.csv.gz"), tmp_path / "b_train.csv"]))


def test_duplicate_events_across_files_are_an_error(tmp_path):
    raw = events(8, seed=4, kaggle_sets="t")
    f1, f2 = write_csv(tmp_path / "one.csv", raw), write_csv(tmp_path / "two.csv", raw.iloc[:3])
    with pytest.raises(ValueError, match=r"duplicate EventId\(s\).*3 in all.*one\.csv.*two\.csv"):
        read_higgs([f1, f2])


def test_mixed_weight_layouts_and_missing_paths(tmp_path):
    raw = events(8, seed=5, kaggle_sets="t")
    f1 = write_csv(tmp_path / "w.csv", raw)
    f2 = write_csv(tmp_path / "nw.csv", raw.assign(EventId=raw.EventId + 100), ["EventId", *FEATURES, "Label"])
    with pytest.raises(ValueError, match=r"column 'Weight' is in some input files but not in .*nw\.csv"):
        read_higgs([f1, f2])
    with pytest.raises(FileNotFoundError, match="nowhere.csv does not exist"):
        read_higgs(tmp_path / "nowhere.csv")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ValueError, match="empty_dir: folder holds no"):
        read_higgs(tmp_path / "empty_dir")
    with pytest.raises(ValueError, match="no event with KaggleSet == 't'"):
        read_higgs(write_csv(tmp_path / "test_only.csv", events(6, seed=6, kaggle_sets="bvu")))


def _bad_file(tmp_path: Path, case: str) -> Path:
    raw = events(6, seed=7)
    path = tmp_path / f"{case}.csv"
    cells = {"nonnumeric": {(2, "DER_mass_vis"): "abc"}, "label": {(3, "Label"): "x"},
             "emptycell": {(1, "PRI_tau_pt"): ""}, "nan": {(4, "Weight"): "NaN"},
             "kaggleset": {(0, "KaggleSet"): "q"}, "eventid": {(5, "EventId"): "12.5"},
             "emptylabel": {(2, "Label"): ""}, "marker": {(2, "PRI_tau_pt"): "-999.0"},
             "jetnum": {(1, "PRI_jet_num"): "2.5"},
             "jetmarker": {(0, "PRI_jet_num"): "3", (0, "PRI_jet_leading_pt"): "-999.0"}}
    if case in cells:
        return write_csv(path, raw, RECORD_328, cells=cells[case], crlf=True)
    if case == "missing":
        return write_csv(path, raw, [c for c in RECORD_328 if c not in ("PRI_met", "Label")])
    if case == "extra":
        return write_csv(path, raw.assign(Foo=1.0, Bar=2.0), [*RECORD_328, "Foo", "Bar"])
    if case == "truncated_gz":
        full = gzip.compress(write_csv(path, events(300, seed=8)).read_bytes())
        path.write_bytes(full[: len(full) // 2])
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "empty_gz":
        path.write_bytes(gzip.compress(b""))
    elif case == "binary":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    elif case == "text":
        path.write_text("this is a plain note\nwith two lines\n")
    elif case == "header_only":
        path.write_text(",".join(RECORD_328) + "\r\n")
    elif case == "toomany":
        text = write_csv(path, raw).read_text().splitlines()
        text[3] += ",7.0"
        path.write_text("\n".join(text) + "\n")
    return path


@pytest.mark.parametrize("case, message", [
    ("missing", r"missing column\(s\) \['PRI_met', 'Label'\]; columns present: \['EventId', 'DER_mass_MMC'"),
    ("extra", r"unexpected column\(s\) \['Foo', 'Bar'\]"),
    ("nonnumeric", r"column 'DER_mass_vis', line 4: non-numeric value 'abc'; 1 such row"),
    ("label", r"column 'Label', line 5: unknown value 'x', expected one of \['s', 'b'\]"),
    ("emptylabel", r"column 'Label', line 4: empty value"),
    ("emptycell", r"column 'PRI_tau_pt', line 3: empty, NaN or infinite value"),
    ("nan", r"column 'Weight', line 6: empty, NaN or infinite value"),
    ("kaggleset", r"column 'KaggleSet', line 2: unknown value 'q', expected one of \['t', 'b', 'v', 'u'\]"),
    ("eventid", r"column 'EventId', line 7: non-integer event id 12.5"),
    ("marker", r"column 'PRI_tau_pt', line 4: the undefined-value marker -999.0, which this quantity never takes"),
    ("jetnum", r"column 'PRI_jet_num', line 3: jet count 2.5, expected one of \[0, 1, 2, 3\]"),
    ("jetmarker", r"column 'PRI_jet_leading_pt', line 2: the undefined-value marker -999.0 although PRI_jet_num "
                  r"says the jet exists \(>= 1\)"),
    ("truncated_gz", r"truncated or corrupt gzip file .*truncated_gz\.csv"),
    ("empty", r"empty\.csv: empty file"),
    ("empty_gz", r"empty_gz\.csv: empty file"),
    ("binary", r"binary\.csv: not a CSV file"),
    ("text", r"text\.csv: not a CSV file: its first line has no comma"),
    ("header_only", r"header_only\.csv: header but no data rows"),
    ("toomany", r"toomany\.csv: malformed CSV .*line 4"),
])
def test_bad_input_is_named(tmp_path, case, message):
    path = _bad_file(tmp_path, case)
    with pytest.raises(ValueError, match=message) as err:
        read_higgs(path)
    assert str(path) in str(err.value)


def test_treat_missing_policies():
    ref = pd.DataFrame({"a": [1.0, 2.0, 11.0, -999.0], "b": [0.0, 5.0, -999.0, -999.0], "event": [1, 2, 3, 4]})
    other = pd.DataFrame({"a": [-999.0, 50.0], "b": [-999.0, -3.0], "event": [7, 8]})
    kept, info = treat_missing(other, "keep", features=["a", "b"])
    assert kept.equals(other) and info == {"policy": "keep", "marker": -999.0, "replacement": {}, "dropped": 0}
    shifted, info = treat_missing(other, "shift", reference=ref, features=["a", "b"])
    assert info["replacement"] == pytest.approx({"a": 0.0, "b": -0.5})  # min - 0.1 * (max - min)
    assert shifted["a"].tolist() == pytest.approx([0.0, 50.0])
    assert shifted["b"].tolist() == pytest.approx([-0.5, -3.0])
    again, _ = treat_missing(other, "shift", replacement=info["replacement"], features=["a", "b"])
    assert again.equals(shifted)
    with pytest.raises(ValueError, match=r"column\(s\) \['b'\] hold the marker .* no value for them"):
        treat_missing(other, "shift", replacement={"a": 0.0}, features=["a", "b"])
    dropped, info = treat_missing(ref, "drop_events", features=["a", "b"])
    assert dropped["event"].tolist() == [1, 2] and info["dropped"] == 2
    with pytest.raises(ValueError, match=r"policy 'zero'; allowed: \['keep', 'shift', 'drop_events'\]"):
        treat_missing(ref, "zero", features=["a", "b"])
    with pytest.raises(ValueError, match=r"column 'b' has value -998.5 at event 8: below -900 but not"):
        treat_missing(other.assign(b=[-999.0, -998.5]), "keep", features=["a", "b"])
    with pytest.raises(ValueError, match=r"column 'b': every defined reference value is 0.0"):
        treat_missing(other, "shift", reference=ref.assign(b=[0.0, 0.0, 0.0, -999.0]), features=["a", "b"])


def test_prepare_higgs_split_missing_and_scaling(tmp_path):
    df = read_higgs(write_csv(tmp_path / "h.csv.gz", events(2000, seed=9, kaggle_sets="t"), gz=True))
    keep = prepare_higgs(df, seed=3)
    shift = prepare_higgs(df, seed=3, missing_policy="shift")
    drop = prepare_higgs(df, seed=3, missing_policy="drop_events")
    assert {k: v["events"] for k, v in keep["counts"].items()} == {"train": 1200, "val": 400, "test": 400}
    for name in SPLITS:  # one split whatever the policy
        assert keep["splits"][name]["event"].equals(shift["splits"][name]["event"])
        assert set(drop["splits"][name]["event"]) <= set(keep["splits"][name]["event"])
    assert set(keep) == {"splits", "scaler", "missing", "counts"}
    assert keep["missing"]["features_with_marker"] == ["DER_mass_MMC", "PRI_jet_leading_pt", "PRI_jet_leading_eta"]
    rep = shift["missing"]["replacement"]
    assert list(rep) == keep["missing"]["features_with_marker"]
    train_raw = df.set_index("event").loc[keep["splits"]["train"]["event"], "DER_mass_MMC"]
    defined = train_raw[train_raw != -999.0]
    assert rep["DER_mass_MMC"] == pytest.approx(defined.min() - 0.1 * (defined.max() - defined.min()))
    assert shift["scaler"].lo[0] == pytest.approx(rep["DER_mass_MMC"]) and keep["scaler"].lo[0] == -999.0
    assert sum(drop["missing"]["dropped"].values()) == (df[FEATURES] == -999.0).any(axis=1).sum()
    for out in (keep, shift, drop):
        train = out["splits"]["train"][FEATURES]
        assert train.min().min() == 0.0 and train.max().max() == 1.0
        back = out["scaler"].inverse(out["splits"]["test"][FEATURES])  # physical units again
        assert np.isfinite(back).all()
    with pytest.raises(ValueError, match=r"prepare_higgs: missing column\(s\) \['label'\]"):
        prepare_higgs(df.drop(columns="label"))


def test_real_shared_sample():
    if not SAMPLE.is_dir():
        pytest.skip(f"shared Higgs sample not present at {SAMPLE}")
    df = read_higgs(SAMPLE)
    assert len(df) == 9998 and int(df["label"].sum()) == 4999
    assert df["event"].is_unique and df["event"].is_monotonic_increasing
    frac = (df["DER_mass_MMC"] == -999.0).mean()
    assert 0.10 < frac < 0.20  # 12.1 % in this balanced sample (about 15 % in the full training set)
    assert set(df["PRI_jet_num"].unique()) == {0.0, 1.0, 2.0, 3.0}
    jetless = df["PRI_jet_num"] == 0
    assert (df.loc[jetless, "PRI_jet_leading_pt"] == -999.0).all()
    for policy in MISSING_POLICIES:
        out = prepare_higgs(df, seed=0, missing_policy=policy)
        counts = out["counts"]
        if policy != "drop_events":
            assert counts == {"train": {"events": 5998, "signal": 2999}, "val": {"events": 2000, "signal": 1000},
                              "test": {"events": 2000, "signal": 1000}}
        train = out["splits"]["train"][FEATURES].to_numpy()
        assert train.min() == 0.0 and train.max() == 1.0


ATLAS = SHARED / "data/higgs-atlas-22889"


def test_largest_shared_sample_is_the_sample_configurations_input():
    if not ATLAS.is_dir():
        pytest.skip(f"shared 22,889-event Higgs sample not present at {ATLAS}")
    df = read_higgs(ATLAS)
    assert len(df) == 22_889 and df["event"].tolist() == list(range(100_000, 122_889))
    assert (df["label"] == 1).sum() == 7_817 and (df["label"] == 0).sum() == 15_072
    if SAMPLE.is_dir():  # it holds the 9,998 events of the smaller sample, values and labels alike
        small = read_higgs(SAMPLE).set_index("event")
        big = df.set_index("event").loc[small.index]
        assert big[list(FEATURES) + ["label"]].equals(small[list(FEATURES) + ["label"]])
    import yaml

    from paths import ROOT

    config = yaml.safe_load((ROOT / "resources/configs/higgs_sample.yaml").read_text())
    assert config["higgs"]["local_files"] == "../shared/data/higgs-atlas-22889"
