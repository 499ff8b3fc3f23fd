"""Reading the real-data set of the detector study."""

import numpy as np
import pandas as pd
import pytest

from conservattack.data.preprocessing import MinMaxScaler
from conservattack.data.real import prepare_real_events, read_real_events


def test_real_events_are_scaled_like_the_simulation(tmp_path):
    pd.DataFrame({"x1": [0.0, 2.0, 4.0], "x2": [1.0, 1.0, 3.0], "other": ["a", "b", "c"]}).to_csv(
        tmp_path / "real.csv", index=False)
    scaler = MinMaxScaler(("x1", "x2"), (0.0, 1.0), (2.0, 2.0))
    real = prepare_real_events(tmp_path / "real.csv", scaler)
    np.testing.assert_allclose(real[["x1", "x2"]], [[0.0, 0.0], [1.0, 0.0], [2.0, 2.0]])
    assert list(real.event) == [0, 1, 2]


def test_bad_real_data_names_file_and_column(tmp_path):
    pd.DataFrame({"x1": [0.0, 1.0]}).to_parquet(tmp_path / "real.parquet")
    with pytest.raises(ValueError, match=r"real.parquet: missing column\(s\) \['x2'\]"):
        read_real_events(tmp_path / "real.parquet", ["x1", "x2"])
    pd.DataFrame({"x1": [0.0, "abc"], "x2": [1.0, 2.0]}).to_csv(tmp_path / "real.csv", index=False)
    with pytest.raises(ValueError, match=r"real.csv: column 'x1' has 1 non-numeric .* row 1"):
        read_real_events(tmp_path / "real.csv", ["x1", "x2"])
    with pytest.raises(FileNotFoundError, match="nowhere.csv does not exist"):
        read_real_events(tmp_path / "nowhere.csv", ["x1"])
    (tmp_path / "real.dat").write_text("x1\n1.0\n")
    with pytest.raises(ValueError, match=r"real.dat: cannot tell the format .* \(config <dataset>.real_data\)"):
        read_real_events(tmp_path / "real.dat", ["x1"])


def test_real_events_get_the_simulations_missing_value_policy(tmp_path):
    """Higgs: real -999 markers are treated as the simulation's were (policy and the values fitted
    on its training split), not scaled as numbers."""
    pd.DataFrame({"x1": [0.0, -999.0, 4.0], "x2": [1.0, 1.0, 3.0]}).to_csv(tmp_path / "real.csv", index=False)
    scaler = MinMaxScaler(("x1", "x2"), (-1.0, 1.0), (3.0, 3.0))  # the simulation's x1 marker went to -1
    shift = {"policy": "shift", "marker": -999.0, "replacement": {"x1": -1.0}}
    real = prepare_real_events(tmp_path / "real.csv", scaler, missing=shift)
    np.testing.assert_allclose(real[["x1", "x2"]], [[0.25, 0.0], [0.0, 0.0], [1.25, 1.0]])
    dropped = prepare_real_events(tmp_path / "real.csv", scaler, missing={**shift, "policy": "drop_events"})
    assert list(dropped.event) == [0, 2]
    kept = prepare_real_events(tmp_path / "real.csv", scaler, missing={**shift, "policy": "keep"})
    assert kept.x1[1] == pytest.approx((-999.0 + 1.0) / 4.0)
    with pytest.raises(ValueError, match=r"real.csv: column\(s\) \['x2'\] hold the marker"):
        pd.DataFrame({"x1": [0.0], "x2": [-999.0]}).to_csv(tmp_path / "real.csv", index=False)
        prepare_real_events(tmp_path / "real.csv", scaler, missing=shift)
