"""The ATLAS Higgs Boson Machine Learning Challenge 2014 data (docs/method.md section 3).

Reads the CERN Open Data record 328 CSV (EventId, 30 features, Weight, Label, KaggleSet,
KaggleWeight; only KaggleSet == 't', the Kaggle training set, is kept) or the Kaggle
training.csv layout (no KaggleSet/KaggleWeight), checks it strictly, treats the -999.0
"undefined" marker by a named policy and prepares one fixed stratified, min-max scaled split.
"""

from __future__ import annotations

import gzip
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from .preprocessing import SPLITS, MinMaxScaler, scale_frame, stratified_split

FEATURES = [
    "DER_mass_MMC", "DER_mass_transverse_met_lep", "DER_mass_vis", "DER_pt_h", "DER_deltaeta_jet_jet",
    "DER_mass_jet_jet", "DER_prodeta_jet_jet", "DER_deltar_tau_lep", "DER_pt_tot", "DER_sum_pt",
    "DER_pt_ratio_lep_tau", "DER_met_phi_centrality", "DER_lep_eta_centrality", "PRI_tau_pt",
    "PRI_tau_eta", "PRI_tau_phi", "PRI_lep_pt", "PRI_lep_eta", "PRI_lep_phi", "PRI_met",
    "PRI_met_phi", "PRI_met_sumet", "PRI_jet_num", "PRI_jet_leading_pt", "PRI_jet_leading_eta",
    "PRI_jet_leading_phi", "PRI_jet_subleading_pt", "PRI_jet_subleading_eta",
    "PRI_jet_subleading_phi", "PRI_jet_all_pt",
]
LABEL_MAP = {"s": 1, "b": 0}
MARKER = -999.0  # "undefined quantity"
# Where the challenge uses the marker (its documentation, and every event of the record): the
# MMC mass when it cannot be computed; the leading jet's variables when PRI_jet_num is 0; the
# subleading jet's and the dijet variables when it is below 2. Elsewhere -999.0 is a defect.
MARKER_BELOW_JETS = {
    "DER_mass_MMC": 4,
    **dict.fromkeys(["PRI_jet_leading_pt", "PRI_jet_leading_eta", "PRI_jet_leading_phi"], 1),
    **dict.fromkeys(["DER_deltaeta_jet_jet", "DER_mass_jet_jet", "DER_prodeta_jet_jet", "DER_lep_eta_centrality",
                     "PRI_jet_subleading_pt", "PRI_jet_subleading_eta", "PRI_jet_subleading_phi"], 2),
}
JET_COUNTS = (0.0, 1.0, 2.0, 3.0)  # PRI_jet_num
KAGGLE_SETS = ("t", "b", "v", "u")  # training, public leaderboard, private leaderboard, unused
REQUIRED_COLUMNS = ["EventId", *FEATURES, "Label"]
KNOWN_EXTRA_COLUMNS = ["Weight", "KaggleSet", "KaggleWeight"]
MISSING_POLICIES = ("keep", "shift", "drop_events")
SHIFT_FRACTION = 0.1  # 'shift' puts the marker at min - 0.1 * (max - min) of the defined values
_GZIP_MAGIC = b"\x1f\x8b"
_HEADER_LIMIT = 1 << 16


def higgs_files(paths) -> list[Path]:
    """The CSV files named by ``paths`` (one path or a list): a folder stands for all its
    *.csv and *.csv.gz files, sorted by name; files are taken as given, in order."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise ValueError("no Higgs input path given")
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            inside = sorted(f for f in p.iterdir() if f.is_file() and f.name.endswith((".csv", ".csv.gz")))
            if not inside:
                raise ValueError(f"{p}: folder holds no *.csv or *.csv.gz file")
            files.extend(inside)
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"Higgs input {p} does not exist")
    return files


def _open(path: Path):
    """Binary handle on the file's text, decompressing when it starts with the gzip magic bytes."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == _GZIP_MAGIC else open(path, "rb")


def _check_header(fh, path: Path) -> list[str]:
    """Column names from the first line; errors for empty, binary or non-CSV files and for
    missing, unknown or repeated columns."""
    raw = fh.readline(_HEADER_LIMIT)
    if not raw.strip():
        raise ValueError(f"{path}: empty file (no header line with column names)")
    try:
        if b"\x00" in raw:
            raise UnicodeDecodeError("utf-8", raw, 0, 1, "NUL byte")
        line = raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a CSV file (its first line is not text)") from None
    if "," not in line:
        raise ValueError(f"{path}: not a CSV file: its first line has no comma-separated column names "
                         f"(first line: {line[:80]!r})")
    columns = [c.strip() for c in line.split(",")]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; columns present: {columns}")
    extra = [c for c in columns if c not in REQUIRED_COLUMNS and c not in KNOWN_EXTRA_COLUMNS]
    if extra:
        raise ValueError(f"{path}: unexpected column(s) {extra}; expected EventId, the 30 features, Label "
                         f"and optionally {KNOWN_EXTRA_COLUMNS}")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise ValueError(f"{path}: column(s) {repeated} appear more than once in the header")
    return columns


def _parse(path: Path) -> pd.DataFrame:
    """The file as read by pandas (header checked, shape errors named); gzip errors reworded."""
    try:
        with _open(path) as fh:
            _check_header(fh, path)
            fh.seek(0)
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                df = pd.read_csv(fh, encoding="utf-8-sig", index_col=False, skip_blank_lines=False,
                                 skipinitialspace=True, low_memory=False)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ValueError(f"truncated or corrupt gzip file {path} ({exc})") from exc
    except pd.errors.ParserWarning as exc:
        raise ValueError(f"{path}: malformed CSV: line 2 has more fields than the header ({exc})") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: malformed CSV ({str(exc).strip()})") from exc
    df.columns = [str(c).strip() for c in df.columns]  # as _check_header saw them
    return df


def _first(mask, what: str, path: Path, column: str, values) -> None:
    """Raise naming the file, column and line of the first True entry of ``mask``; ``what``
    describes the defect, with ``{value}`` standing for the offending value."""
    mask = np.asarray(mask)
    if mask.any():
        i = int(np.argmax(mask))
        value = values.iloc[i] if isinstance(values, pd.Series) else values[i]
        value = value.item() if isinstance(value, np.generic) else value
        raise ValueError(f"{path}: column {column!r}, line {i + 2}: {what.format(value=repr(value))}; "
                         f"{int(mask.sum())} such row(s)")


def _numeric(df: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """Column as float64; non-numeric, empty, NaN and infinite cells are errors."""
    s = df[column]
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        as_num = pd.to_numeric(s.astype(object), errors="coerce")
        _first(as_num.isna() & s.notna(), "non-numeric value {value}", path, column, s)
        s = as_num
    x = s.to_numpy(np.float64, na_value=np.nan)
    _first(~np.isfinite(x), "empty, NaN or infinite value", path, column, x)
    return x


def _categorical(df: pd.DataFrame, column: str, allowed, path: Path) -> np.ndarray:
    """Column as strings from ``allowed``; empty cells and other values are errors."""
    s = df[column]
    _first(s.isna().to_numpy(), "empty value", path, column, s)
    _first(~s.isin(list(allowed)).to_numpy(), f"unknown value {{value}}, expected one of {list(allowed)}",
           path, column, s)
    return s.to_numpy(object)


def _read_file(path: Path) -> pd.DataFrame:
    """One checked file -> features, label, event (and weight), KaggleSet == 't' rows only."""
    df = _parse(path)
    n = len(df)
    while n and df.iloc[n - 1].isna().all():  # blank lines at the end of the file
        n -= 1
    df = df.iloc[:n]
    if n == 0:
        raise ValueError(f"{path}: header but no data rows")
    out = pd.DataFrame({f: _numeric(df, f, path) for f in FEATURES})
    _check_marker_places(out, path)
    out["label"] = pd.Series(_categorical(df, "Label", LABEL_MAP, path)).map(LABEL_MAP).to_numpy(np.int64)
    event = _numeric(df, "EventId", path)
    _first(event != np.round(event), "non-integer event id {value}", path, "EventId", event)
    out["event"] = event.astype(np.int64)
    if "Weight" in df.columns:
        out["weight"] = _numeric(df, "Weight", path)
    if "KaggleWeight" in df.columns:
        _numeric(df, "KaggleWeight", path)
    if "KaggleSet" in df.columns:
        out = out[_categorical(df, "KaggleSet", KAGGLE_SETS, path) == "t"]
    return out


def _check_marker_places(df: pd.DataFrame, path: Path) -> None:
    """PRI_jet_num is 0, 1, 2 or 3, and -999.0 appears only where the challenge defines the
    quantity as undefined (MARKER_BELOW_JETS)."""
    jets = df["PRI_jet_num"].to_numpy()
    _first(~np.isin(jets, JET_COUNTS), f"jet count {{value}}, expected one of {[int(j) for j in JET_COUNTS]}",
           path, "PRI_jet_num", jets)
    for f in FEATURES:
        x = df[f].to_numpy()
        below = MARKER_BELOW_JETS.get(f, 0)
        if below == 0:
            _first(x == MARKER, "the undefined-value marker {value}, which this quantity never takes", path, f, x)
        elif below < 4:
            _first((x == MARKER) & (jets >= below),
                   f"the undefined-value marker {{value}} although PRI_jet_num says the jet exists (>= {below})",
                   path, f, x)


def read_higgs(paths) -> pd.DataFrame:
    """Read and check Higgs challenge CSV files (gzip or plain, found from the magic bytes; CRLF or
    LF). ``paths``: a file, a folder (all its *.csv and *.csv.gz, sorted) or a list of these.

    Returns the 30 FEATURES (float64), ``label`` (int64, s = 1, b = 0), ``event`` (int64 EventId)
    and ``weight`` (float64, the file's Weight column, when every file has one), one row per event
    with KaggleSet == 't' (all rows where there is no KaggleSet column), sorted by event. Any
    defect is a ValueError naming the file, and the column and line where there is one: missing
    or unknown columns, non-numeric, empty, NaN or infinite cells, labels other than s/b,
    KaggleSet values other than t/b/v/u, a truncated gzip stream, an empty or non-CSV file, and
    EventIds repeated within or across files, a PRI_jet_num other than 0-3, and -999.0 where the
    challenge never puts it (MARKER_BELOW_JETS). The -999.0 marker is kept (see treat_missing).
    """
    files = higgs_files(paths)
    frames = [_read_file(f) for f in files]
    with_weight = ["weight" in f.columns for f in frames]
    if any(with_weight) and not all(with_weight):
        lacking = [str(f) for f, w in zip(files, with_weight) if not w]
        raise ValueError(f"column 'Weight' is in some input files but not in {lacking}; use files of one layout")
    source = np.repeat(np.arange(len(files)), [len(f) for f in frames])
    df = pd.concat(frames, ignore_index=True)
    if df.empty:
        raise ValueError(f"no event with KaggleSet == 't' in {[str(f) for f in files]}")
    dup = df["event"].duplicated(keep=False).to_numpy()
    if dup.any():
        ids = sorted(set(df["event"].to_numpy()[dup].tolist()))
        where = sorted({str(files[i]) for i in source[dup]})
        raise ValueError(f"duplicate EventId(s) {ids[:10]}{' ...' if len(ids) > 10 else ''} "
                         f"({len(ids)} in all) in {where}")
    return df.sort_values("event", kind="stable").reset_index(drop=True)


def _check_markers(df: pd.DataFrame, features, where: str = "") -> None:
    """Values below -900 must be exactly the marker -999.0 (anything else is a corrupt value)."""
    for f in features:
        x = df[f].to_numpy(np.float64)
        bad = (x < -900.0) & (x != MARKER)
        if bad.any():
            i = int(np.argmax(bad))
            event = df["event"].iloc[i] if "event" in df.columns else df.index[i]
            raise ValueError(f"column {f!r} has value {float(x[i])!r} at event {event}{where}: below -900 but not "
                             f"the undefined-value marker {MARKER} ({int(bad.sum())} such value(s))")


def _shift_values(reference: pd.DataFrame, features) -> dict[str, float]:
    """Per feature, min - SHIFT_FRACTION * (max - min) of the reference's defined values."""
    out = {}
    for f in features:
        x = reference[f].to_numpy(np.float64)
        x = x[x != MARKER]
        if x.size == 0:
            raise ValueError(f"column {f!r}: every reference value is the marker {MARKER}; 'shift' cannot "
                             "place it below the defined values")
        lo, hi = float(x.min()), float(x.max())
        if hi == lo:
            raise ValueError(f"column {f!r}: every defined reference value is {lo}; 'shift' needs a spread "
                             "to place the marker below them")
        out[f] = lo - SHIFT_FRACTION * (hi - lo)
    return out


def treat_missing(df: pd.DataFrame, policy: str = "keep", *, reference: pd.DataFrame | None = None,
                  replacement: dict | None = None, features=FEATURES) -> tuple[pd.DataFrame, dict]:
    """Apply a policy for the -999.0 marker (undefined quantity) to ``features``.

    Policies: ``keep`` (leave -999.0 as a value), ``shift`` (replace -999.0 in each feature by
    min - 0.1 * (max - min) of that feature's defined values in ``reference``, default ``df``
    itself; pass the training split so that every split gets the same values, or pass
    ``replacement`` {feature: value} fitted earlier), ``drop_events`` (drop every event with
    -999.0 in any feature). Values below -900 other than -999.0 are a ValueError naming column
    and event, whatever the policy.

    Returns (frame, info) with info = {"policy", "marker": -999.0, "replacement": {feature: value}
    for the features where ``df`` holds the marker ({} unless shift), "dropped": events dropped}.
    """
    if policy not in MISSING_POLICIES:
        raise ValueError(f"unknown missing-value policy {policy!r}; allowed: {list(MISSING_POLICIES)}")
    features = list(features)
    _check_markers(df, features)
    is_marker = df[features].to_numpy(np.float64) == MARKER
    info = {"policy": policy, "marker": MARKER, "replacement": {}, "dropped": 0}
    if policy == "drop_events":
        keep = ~is_marker.any(axis=1)
        if len(df) and not keep.any():
            raise ValueError(f"missing-value policy 'drop_events' would drop all {len(df)} events")
        info["dropped"] = int((~keep).sum())
        return df[keep].copy(), info
    if policy == "keep":
        return df.copy(), info
    with_marker = [f for f, m in zip(features, is_marker.any(axis=0)) if m]
    if replacement is None:
        ref = df if reference is None else reference
        _check_markers(ref, with_marker, " of the reference frame")
        replacement = _shift_values(ref, with_marker)
    unfitted = [f for f in with_marker if f not in replacement]
    if unfitted:
        raise ValueError(f"column(s) {unfitted} hold the marker {MARKER} but the given replacement has no "
                         f"value for them (it has {sorted(replacement)})")
    out = df.copy()
    for f in with_marker:
        out[f] = out[f].mask(out[f] == MARKER, float(replacement[f]))
    info["replacement"] = {f: float(replacement[f]) for f in with_marker}
    return out, info


def prepare_higgs(df: pd.DataFrame, split=(0.6, 0.2, 0.2), seed: int = 0,
                  missing_policy: str = "keep") -> dict:
    """One fixed stratified split of ``df`` (as read_higgs returns it), the missing-value policy
    fitted on the training split and applied to all, then min-max scaling fitted on the training
    split. The split does not depend on the policy: an event is in the same split whatever it is.

    Returns {"splits": {"train", "val", "test": scaled frames}, "scaler": MinMaxScaler (physical
    units <-> [0, 1] of the treated values), "missing": {"policy", "marker", "replacement":
    {feature: value} (shift only; the physical value standing for "undefined"), "dropped":
    {split: events dropped}, "features_with_marker": [features holding -999.0 in the training
    split before treatment]}, "counts": {split: {"events", "signal"}} (after treatment)}.
    """
    missing_cols = [c for c in [*FEATURES, "label", "event"] if c not in df.columns]
    if missing_cols:
        raise ValueError(f"prepare_higgs: missing column(s) {missing_cols}; columns present: {list(df.columns)}")
    raw = stratified_split(df, split, seed=seed)
    marked = (raw["train"][FEATURES] == MARKER).any(axis=0)
    treated, infos = {}, {}
    for name in SPLITS:
        treated[name], infos[name] = treat_missing(raw[name], missing_policy, reference=raw["train"])
    replacement = {}
    for info in infos.values():
        replacement.update(info["replacement"])  # identical values: all fitted on the training split
    missing = {"policy": missing_policy, "marker": MARKER, "replacement": replacement,
               "dropped": {name: infos[name]["dropped"] for name in SPLITS},
               "features_with_marker": [f for f in FEATURES if marked[f]]}
    scaler = MinMaxScaler.fit(treated["train"], FEATURES)
    counts = {name: {"events": len(part), "signal": int(part["label"].sum())} for name, part in treated.items()}
    return {"splits": {name: scale_frame(treated[name], scaler) for name in SPLITS}, "scaler": scaler,
            "missing": missing, "counts": counts}


# Units of the features, for axes in physical units (GeV for masses, momenta and energies).
UNITS = {f: ("GeV" if any(k in f for k in ("mass", "_pt", "met", "sum_pt", "sumet")) else "") for f in FEATURES}
UNITS.update({"DER_pt_ratio_lep_tau": "", "DER_met_phi_centrality": "", "PRI_met_phi": "rad",
              "PRI_tau_phi": "rad", "PRI_lep_phi": "rad", "PRI_jet_leading_phi": "rad",
              "PRI_jet_subleading_phi": "rad", "PRI_jet_num": ""})
