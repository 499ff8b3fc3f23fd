"""Figures of study 9 (distance correlation, limited data): paper figures 24 and 25.

Figures 22 and 23 (dCor matrices and marginals of the DisCo adversaries) reuse
``plots.correlation_matrices`` and ``plots.marginals``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .style import ADV, CLEAN, plt

COLOURS = {"disco": ADV, "pearson": CLEAN}
LABELS = {"disco": "DisCo (distance correlation)", "pearson": "Pearson, limited data"}


def auroc_vs_training_size(sizes: pd.DataFrame):
    """Figure 24: detector AUROC on the test subset versus the number of clean training events,
    mean and +- 1 std over runs, one line per method."""
    fig, ax = plt.subplots(figsize=(10, 7))
    for method, df in sizes.groupby("method", sort=False):
        g = df.groupby("n_clean")["detector_auroc"]
        n, m, s = g.mean().index.to_numpy(), g.mean().to_numpy(), g.std(ddof=1).fillna(0.0).to_numpy()
        c = COLOURS.get(method, "k")
        ax.plot(n, m, "o-", color=c, label=LABELS.get(method, method))
        ax.fill_between(n, m - s, m + s, color=c, alpha=0.2)
    ax.set_xlabel("Clean events in the detector's training set")
    ax.set_ylabel("Detector AUROC")
    ax.set_title("Clean test events vs fooled test adversaries", fontsize=16)
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.legend(fontsize=13)
    return fig


def disco_vs_pearson(per_run: pd.DataFrame, full_size: pd.DataFrame | None = None):
    """Figure 25: per-run initial and corrected fooling ratio and detector AUROC of the DisCo and
    the limited-data Pearson attacks; the full-size Pearson detector study's mean corrected (and
    initial) fooling ratio as reference lines when given."""
    cols = [("detector_test_fooling_ratio", "Initial fooling ratio"),
            ("corrected_fooling_ratio", "Corrected fooling ratio"), ("detector_auroc", "Detector AUROC")]
    fig, axes = plt.subplots(1, len(cols), figsize=(7.5 * len(cols), 6.5))
    methods = list(dict.fromkeys(per_run["method"]))
    for ax, (col, label) in zip(axes, cols):
        for k, method in enumerate(methods):
            v = per_run.loc[per_run["method"] == method, col].to_numpy(float)
            x = np.full(len(v), k) + np.linspace(-0.15, 0.15, len(v)) if len(v) > 1 else np.full(len(v), k)
            ax.plot(x, v, "o", color=COLOURS.get(method, "k"), alpha=0.7)
            ax.errorbar([k], [np.nanmean(v)], yerr=[np.nanstd(v, ddof=1) if len(v) > 1 else 0.0], fmt="s",
                        ms=10, color="k", capsize=6)
        if full_size is not None and col in ("detector_test_fooling_ratio", "corrected_fooling_ratio"):
            ref = "initial_fooling_ratio" if col == "detector_test_fooling_ratio" else "corrected_fooling_ratio"
            if ref in full_size:
                ax.axhline(full_size[ref].mean(), color="grey", ls="--", label="Pearson, full size (mean)")
                ax.legend(fontsize=12)
        ax.set_xticks(range(len(methods)), [LABELS.get(m, m).split(",")[0] for m in methods])
        ax.set_xlim(-0.6, len(methods) - 0.4)
        ax.set_ylabel(label)
    fig.tight_layout()
    return fig
