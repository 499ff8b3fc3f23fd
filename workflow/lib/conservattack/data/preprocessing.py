"""Splitting and scaling shared by every data set."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

SPLITS = ("train", "val", "test")


def stratified_split(df: pd.DataFrame, fractions=(0.6, 0.2, 0.2), seed: int = 0,
                     label: str = "label") -> dict[str, pd.DataFrame]:
    """One fixed stratified train/val/test split (shared by all runs)."""
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"split fractions must be three positive numbers summing to 1, got {fractions}")
    f_train, f_val, f_test = fractions
    rest, test = train_test_split(df, test_size=f_test, random_state=seed, stratify=df[label])
    train, val = train_test_split(rest, test_size=f_val / (f_train + f_val), random_state=seed,
                                  stratify=rest[label])
    return {"train": train.sort_index(), "val": val.sort_index(), "test": test.sort_index()}


def stratified_subset(df: pd.DataFrame, n: int, seed: int = 0, label: str = "label") -> pd.DataFrame:
    """A fixed stratified subset of ``n`` events (the reduced training set of the augmentation study)."""
    if not 2 <= n <= len(df):
        raise ValueError(f"subset size {n} must be between 2 and the {len(df)} events available")
    if n == len(df):
        return df.copy()
    subset, _ = train_test_split(df, train_size=n, random_state=seed, stratify=df[label])
    return subset.sort_index()


@dataclass(frozen=True)
class MinMaxScaler:
    """x_scaled = (x - lo) / (hi - lo) per feature, fitted on the training split."""

    features: tuple[str, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]

    @classmethod
    def fit(cls, df: pd.DataFrame, features) -> "MinMaxScaler":
        X = df[list(features)].to_numpy(np.float64)
        lo, hi = X.min(axis=0), X.max(axis=0)
        const = [f for f, a, b in zip(features, lo, hi) if a == b]
        if const:
            raise ValueError(f"feature(s) {const} are constant on the training split; cannot min-max scale. A "
                             f"constant feature carries nothing for the classifier: drop it from the features "
                             f"(for your own data, custom.data.features)")
        return cls(tuple(features), tuple(lo.tolist()), tuple(hi.tolist()))

    def transform(self, X) -> np.ndarray:
        return (np.asarray(X, np.float64) - np.array(self.lo)) / (np.array(self.hi) - np.array(self.lo))

    def inverse(self, X) -> np.ndarray:
        return np.asarray(X, np.float64) * (np.array(self.hi) - np.array(self.lo)) + np.array(self.lo)

    def save(self, path) -> None:
        Path(path).write_text(json.dumps({"features": list(self.features), "lo": list(self.lo),
                                          "hi": list(self.hi)}, indent=2))

    @classmethod
    def load(cls, path) -> "MinMaxScaler":
        d = json.loads(Path(path).read_text())
        return cls(tuple(d["features"]), tuple(d["lo"]), tuple(d["hi"]))


def scale_frame(df: pd.DataFrame, scaler: MinMaxScaler) -> pd.DataFrame:
    out = df.copy()
    out[list(scaler.features)] = scaler.transform(df[list(scaler.features)])
    return out
