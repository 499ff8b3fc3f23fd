"""A real-data set for the detector study: the dataset's features, processed like the simulation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .preprocessing import MinMaxScaler, scale_frame
from .tables import EVENT


def read_real_events(path, features, tree: str | None = None) -> pd.DataFrame:
    """Read real events (Parquet, CSV / CSV.gz, or a ROOT TTree: ``tree``, or the file's only
    one) holding the dataset's ``features`` in physical units; other columns are ignored. Missing
    columns and non-finite values are errors naming the file and the column."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"real-data file {path} does not exist (config <dataset>.real_data)")
    if path.suffix == ".root":
        from .userdata import read_events

        return read_events(path, features, None, "root", tree)
    try:
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f"{path}: cannot read real data as Parquet or CSV ({exc})") from exc
    missing = [f for f in features if f not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing feature column(s) {missing}; columns present: {list(df.columns)}")
    out = pd.DataFrame({f: pd.to_numeric(df[f], errors="coerce") for f in features})
    for f in features:
        bad = ~np.isfinite(out[f].to_numpy(np.float64))
        if bad.any():
            raise ValueError(f"{path}: column '{f}' has {int(bad.sum())} non-numeric or non-finite value(s), "
                             f"first at row {int(np.flatnonzero(bad)[0])}")
    if len(out) == 0:
        raise ValueError(f"{path}: no real events")
    out[EVENT] = np.arange(len(out), dtype=np.int64)
    return out


def prepare_real_events(path, scaler: MinMaxScaler, tree: str | None = None) -> pd.DataFrame:
    """Real events scaled with the simulation's training-split scaler (values may leave [0, 1])."""
    return scale_frame(read_real_events(path, scaler.features, tree), scaler)
