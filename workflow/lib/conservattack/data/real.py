"""A real-data set for the detector study: the dataset's features, processed like the simulation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .preprocessing import MinMaxScaler, scale_frame
from .custom import file_format, read_events


def read_real_events(path, features, tree: str | None = None, missing_values=()) -> pd.DataFrame:
    """Read real events (Parquet, CSV / CSV.gz, or a ROOT TTree: ``tree``, or the file's only
    one) holding the dataset's ``features`` in physical units; other columns are ignored. The
    checks are the analyst toolkit's (``userdata.read_events``, unlabelled): missing columns and
    non-numeric or non-finite values, and values equal to one of ``missing_values`` (the custom
    data's markers), are errors naming the file, the column and the row."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"real-data file {path} does not exist (config <dataset>.real_data)")
    try:
        file_format(path)
    except ValueError:
        raise ValueError(f"real-data file {path}: cannot tell the format from the name; name it .parquet, .csv, "
                         ".csv.gz or .root (config <dataset>.real_data)") from None
    return read_events(path, features, None, "auto", tree, missing_values=missing_values)


def prepare_real_events(path, scaler: MinMaxScaler, tree: str | None = None, missing: dict | None = None,
                        missing_values=()) -> pd.DataFrame:
    """Real events processed like the simulation: the simulation's missing-value policy when it has
    one (``missing``: the "missing" block of the Higgs data.json, policy and the replacement
    values fitted on the training split), then its training-split scaler (values may leave
    [0, 1]). ``missing_values``: markers refused as the simulation's are (custom data)."""
    real = read_real_events(path, scaler.features, tree, missing_values)
    if missing is not None:
        from .higgs import treat_missing

        try:
            real, _ = treat_missing(real, missing["policy"], replacement=missing["replacement"],
                                    features=scaler.features)
        except ValueError as exc:
            raise ValueError(f"real-data file {path}: {exc}") from exc
    return scale_frame(real, scaler)
