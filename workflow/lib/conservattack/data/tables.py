"""The column layout of the workflow's event tables (Parquet)."""

from __future__ import annotations

import numpy as np
import pandas as pd

LABEL, EVENT = "label", "event"
CLEAN_PREFIX = "clean_"
# the columns adversaries_frame adds beside the features
OWN_COLUMNS = (EVENT, LABEL, "fooled", "p_clean", "p_adv")


def clashing_feature_names(features) -> list[str]:
    """Feature names the event tables cannot hold as features: the workflow's own columns, and
    ``clean_<f>`` where ``f`` is a feature too (the adversaries table's clean copy of ``f``)."""
    features = list(features)
    return [f for f in features if f in OWN_COLUMNS or (f.startswith(CLEAN_PREFIX) and f[len(CLEAN_PREFIX):] in features)]


def features_and_labels(df: pd.DataFrame, features) -> tuple[np.ndarray, np.ndarray]:
    return df[list(features)].to_numpy(np.float64), df[LABEL].to_numpy(np.int64)


def adversaries_frame(events, labels, features, X_clean, X_adv, fooled, p_clean, p_adv) -> pd.DataFrame:
    """One row per attacked event: ids, label, fooled flag, model outputs, adversarial features
    (named as the features) and clean features (``clean_<feature>``), all min-max scaled."""
    df = pd.DataFrame({EVENT: events, LABEL: labels, "fooled": fooled, "p_clean": p_clean, "p_adv": p_adv})
    for j, f in enumerate(features):
        df[f] = X_adv[:, j]
    for j, f in enumerate(features):
        df[CLEAN_PREFIX + f] = X_clean[:, j]
    return df


def split_adversaries(df: pd.DataFrame, features):
    """(X_clean, X_adv, labels, fooled) from an adversaries table."""
    X_adv = df[list(features)].to_numpy(np.float64)
    X_clean = df[[CLEAN_PREFIX + f for f in features]].to_numpy(np.float64)
    return X_clean, X_adv, df[LABEL].to_numpy(np.int64), df["fooled"].to_numpy(bool)
