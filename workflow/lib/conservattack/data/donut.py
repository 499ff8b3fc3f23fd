"""The Donut toy data set (docs/method.md section 3): a Gaussian blob inside a ring."""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = ["x1", "x2"]


def generate_donut(n_signal: int = 50_000, n_background: int = 50_000, seed: int = 0,
                   signal_sigma: float = 0.5, radius_mean: float = 1.8,
                   radius_sigma: float = 0.5) -> pd.DataFrame:
    """Signal x1, x2 ~ N(0, sigma^2); background at radius N(radius_mean, radius_sigma^2) and
    angle U(0, 2 pi). Columns x1, x2, label (signal 1, background 0), event (running id)."""
    for name, v in (("n_signal", n_signal), ("n_background", n_background)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"donut parameter '{name}' must be a positive integer, got {v!r}")
    rng = np.random.default_rng(seed)
    sig = rng.normal(0.0, signal_sigma, size=(n_signal, 2))
    r = rng.normal(radius_mean, radius_sigma, size=n_background)
    phi = rng.uniform(0.0, 2.0 * np.pi, size=n_background)
    bkg = np.column_stack([r * np.cos(phi), r * np.sin(phi)])
    df = pd.DataFrame(np.vstack([sig, bkg]), columns=FEATURES)
    df["label"] = np.r_[np.ones(n_signal, np.int64), np.zeros(n_background, np.int64)]
    df["event"] = np.arange(len(df), dtype=np.int64)
    return df
