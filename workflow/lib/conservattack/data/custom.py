"""The analyst toolkit's events (paper section 11, figure 26; docs/method.md, study 10).

``read_table`` reads the named columns of a Parquet, CSV (plain or gzip) or ROOT file (a TTree,
through uproot); ``read_events`` checks them (present, numeric, finite; labels 0/1, both
classes). The analyst's model: ``conservattack.models.imported``. Every error names the file,
the column or the key and what was expected.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .tables import CLEAN_PREFIX, EVENT, LABEL, OWN_COLUMNS, clashing_feature_names

FORMATS = ("auto", "parquet", "csv", "root")


def file_format(path, fmt: str = "auto") -> str:
    """``parquet``, ``csv`` or ``root``: ``fmt``, or from the file name when ``auto``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    if fmt != "auto":
        return fmt
    name = Path(path).name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz", ".txt", ".txt.gz")):
        return "csv"
    if name.endswith(".root"):
        return "root"
    raise ValueError(f"{path}: cannot tell the format from the name; use .parquet, .csv, .csv.gz or .root, "
                     "or set the format in the config")


def _root_tree(path: Path, tree: str | None):
    import uproot

    try:
        f = uproot.open(path)
        classes = f.classnames()
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f"{path}: cannot open as a ROOT file; is it truncated or damaged? ({exc})") from exc
    trees = sorted({k.split(";")[0] for k, cls in classes.items() if cls in ("TTree", "TNtuple", "ROOT::RNTuple")})
    if tree is None:
        if len(trees) != 1:
            raise ValueError(f"{path}: {len(trees)} trees ({trees}); name the one to read in the config (tree)")
        tree = trees[0]
    if tree not in trees:
        raise ValueError(f"{path}: no tree {tree!r}; trees present: {trees}")
    try:
        t = f[tree]
        return t, list(t.keys())
    except Exception as exc:  # noqa: BLE001 - re-raised with the file and tree named
        raise ValueError(f"{path}: cannot read tree {tree!r}; is the file truncated or damaged? ({exc})") from exc


def _read_root(path: Path, columns, tree: str | None) -> pd.DataFrame:
    t, present = _root_tree(path, tree)
    check_columns(path, columns, present)
    out = {}
    for c in columns:
        try:
            a = t.arrays([c], library="np")[c]
        except Exception as exc:  # noqa: BLE001 - re-raised with the file and branch named
            raise ValueError(f"{path}: branch '{c}' cannot be read as one number per event: the file may be "
                             f"truncated or damaged, or the branch of another type ({type(exc).__name__}: {exc})") from exc
        if a.dtype == object or a.ndim != 1:
            raise ValueError(f"{path}: branch '{c}' is not one number per event (jagged or array branch)")
        out[c] = a
    return pd.DataFrame(out)


def _header(path: Path, kind: str) -> list[str]:
    """The column names of a Parquet or CSV file, as written (pandas would rename a repeated CSV
    name to ``name.1``)."""
    if kind == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    first = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    return [str(v) for v in first.iloc[0]] if len(first) else []


def column_names(path, fmt: str = "auto", tree: str | None = None) -> list[str]:
    """The columns of a Parquet or CSV file (its header) or the branches of a ROOT tree, read
    without the data; an unreadable file, or a column name written twice, is an error naming
    the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    kind = file_format(path, fmt)
    if kind == "root":
        return _root_tree(path, tree)[1]
    try:
        present = _header(path, kind)
    except Exception as exc:  # noqa: BLE001 - pandas' and pyarrow's errors, re-raised with the file named
        raise ValueError(f"{path}: cannot read as {kind}; is it empty, truncated or of another format? "
                         f"({type(exc).__name__}: {exc})") from exc
    repeated = sorted({c for c in present if present.count(c) > 1})
    if repeated:
        raise ValueError(f"{path}: column name(s) {repeated} appear more than once in the header")
    return present


def read_table(path, columns, fmt: str = "auto", tree: str | None = None) -> pd.DataFrame:
    """The ``columns`` of a Parquet, CSV or ROOT file, as read (not yet checked for values).

    A missing file, an unreadable, truncated or malformed one (a CSV row with more fields than
    the header), a column name written twice, or a missing column is an error naming the file
    (and the columns present).
    """
    path, columns = Path(path), list(columns)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    kind = file_format(path, fmt)
    if kind == "root":
        return _read_root(path, columns, tree)
    present = column_names(path, kind)
    check_columns(path, columns, present)
    try:
        if kind == "parquet":
            return pd.read_parquet(path, columns=columns)
        # every column (with usecols pandas would drop a row's surplus fields without a word), as
        # text: non-numeric cells are reported with their row by numeric_column. index_col=False:
        # when every row has one field more than the header, pandas would otherwise take the first
        # column as the index and shift every value one column left; it warns instead, an error here
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(path, dtype=str, keep_default_na=False, index_col=False)[columns]
    except pd.errors.ParserWarning as exc:
        raise ValueError(f"{path}: its rows have more fields than the header's {len(present)} "
                         f"columns (a trailing delimiter counts as a field); fix the header or the rows") from exc
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f"{path}: cannot read as {kind} ({type(exc).__name__}: {exc})") from exc


def check_columns(path, columns, present) -> None:
    """Stop, naming ``path`` and the columns ``present``, when one of ``columns`` is not among them."""
    missing = [c for c in columns if c not in present]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; columns present: {present}")


def numeric_column(path, name: str, values: pd.Series) -> np.ndarray:
    """A column as float64; a non-numeric, empty, NaN or infinite cell is an error naming the row."""
    raw = values
    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        text = values.astype(str).str.strip()
        num = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
        bad = np.isnan(num) & ~text.str.lower().isin(["nan"]).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{path}: column '{name}' has {int(bad.sum())} non-numeric value(s), first at row {i}: "
                             f"{raw.iloc[i]!r}")
    else:
        num = values.to_numpy(np.float64)
    bad = ~np.isfinite(num)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}: column '{name}' has {int(bad.sum())} NaN or infinite value(s), first at row {i}")
    return num


def _refuse_markers(path, name: str, values: np.ndarray, markers) -> None:
    for marker in markers:
        hit = values == float(marker)
        if hit.any():
            raise ValueError(
                f"{path}: column '{name}' has {int(hit.sum())} value(s) {float(marker):g}, first at row "
                f"{int(np.flatnonzero(hit)[0])}: a missing-value marker (custom.data.missing_values). Custom data "
                f"has no missing-value policy, and a marker would stretch the min-max scaling and be attacked as "
                f"a number: replace the markers (drop those events, or set a physical default), or, if they are "
                f"genuine values, remove {float(marker):g} from custom.data.missing_values")


def read_events(path, features, label: str | None, fmt: str = "auto", tree: str | None = None,
                min_per_class: int = 10, missing_values=()) -> pd.DataFrame:
    """Checked events: the ``features`` (float64), the ``label`` as ``label`` (0/1, both classes,
    at least ``min_per_class`` each) and ``event`` (the row number in the file). ``label`` None:
    unlabelled events (real data). A feature value equal to one of ``missing_values`` (markers
    such as -999, ``custom.data.missing_values``) is an error naming file, column and row."""
    features = list(features)
    if not features:
        raise ValueError("no features configured (custom.data.features)")
    dup = sorted({f for f in features if features.count(f) > 1})
    if dup:
        raise ValueError(f"feature(s) {dup} listed more than once (custom.data.features)")
    if label is not None and label in features:
        raise ValueError(f"the label column '{label}' is also listed as a feature")
    reserved = clashing_feature_names(features)
    if reserved:  # they would overwrite, or be overwritten by, the workflow's own columns
        raise ValueError(f"feature name(s) {reserved} are reserved for the workflow's columns ({list(OWN_COLUMNS)}, "
                         f"and {CLEAN_PREFIX}<feature> for a feature's clean value); rename the column(s) in {path} "
                         f"and in custom.data.features")
    columns = features + ([label] if label is not None else [])
    raw = read_table(path, columns, fmt, tree)
    if len(raw) == 0:
        raise ValueError(f"{path}: no events")
    out = pd.DataFrame({f: numeric_column(path, f, raw[f]) for f in features})
    for f in features:
        _refuse_markers(path, f, out[f].to_numpy(), missing_values)
    if label is not None:
        y_raw = raw[label]
        if not (pd.api.types.is_numeric_dtype(y_raw) or pd.api.types.is_bool_dtype(y_raw)):
            text = y_raw.astype(str).str.strip().str.lower()
            if text.isin(["true", "false"]).all():  # booleans in a CSV (pandas writes True/False)
                y_raw = (text == "true").astype(np.float64)
        y = numeric_column(path, label, y_raw)
        bad = ~np.isin(y, (0.0, 1.0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{path}: label column '{label}' must be 0 (background) or 1 (signal); found "
                             f"{sorted(set(np.unique(y[bad]).tolist()))[:10]}, first at row {i}")
        counts = [int((y == c).sum()) for c in (0, 1)]
        if min(counts) < min_per_class:
            raise ValueError(f"{path}: label column '{label}' has {counts[0]} background (0) and {counts[1]} "
                             f"signal (1) events; at least {min_per_class} of each are needed")
        out[LABEL] = y.astype(np.int64)
    out[EVENT] = np.arange(len(out), dtype=np.int64)
    return out
