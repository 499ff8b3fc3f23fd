"""The figures' common style: mplhep's ROOT style on matplotlib's Agg backend, the colours, and
``save`` (PNG and PDF side by side)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep as hep  # noqa: E402
import numpy as np  # noqa: E402

plt.style.use(hep.style.ROOT)
CLEAN, ADV, FOOL, SIG = "#1f77b4", "#d62728", "#ff7f0e", "#2ca02c"

__all__ = ["ADV", "CLEAN", "FOOL", "SIG", "plt", "save", "subsample"]


def save(fig, path) -> list[Path]:
    """Write the figure as PNG and PDF next to each other: ``path`` may name either file (a rule
    output) or their common stem. Returns both paths."""
    stem = Path(path)
    if stem.suffix in (".png", ".pdf"):
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(out[0], dpi=120, bbox_inches="tight")
    fig.savefig(out[1], bbox_inches="tight")
    plt.close(fig)
    return out


def subsample(X, n_max: int, seed: int):
    """At most ``n_max`` rows of X, drawn without replacement with ``seed`` (all rows if fewer)."""
    if len(X) <= n_max:
        return X
    return X[np.random.default_rng(seed).choice(len(X), n_max, replace=False)]
