"""The figure of an attack's validation against an independent sample (docs/method.md section 9):
the p-value distributions of the chi-square and KS tests, clean beside adversarial, and the pull
matrices of the correlation coefficients."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .style import ADV, CLEAN, plt

__all__ = ["pull_matrix", "validation"]


def pull_matrix(table: pd.DataFrame, features: Sequence[str], which: str) -> np.ndarray:
    """The (d, d) matrix of the pulls of ``which`` (clean or adversarial) from a validation table;
    NaN on the diagonal."""
    index = {f: j for j, f in enumerate(features)}
    M = np.full((len(features), len(features)), np.nan)
    for item, v in table.loc[table.test == "pull", ["item", f"statistic_{which}"]].itertuples(index=False):
        a, b = item.split("|")
        M[index[a], index[b]] = M[index[b], index[a]] = v
    return M


def validation(table: pd.DataFrame, summary: dict, features: Sequence[str]):
    """Top: histograms of the per-feature p-values of the chi-square and the KS test, clean and
    adversarial (uniform when the sets pass the checks as clean simulation does), with the level.
    Bottom: the pull matrices, clean and adversarial (colour scale +-4, |pull| > 2 fails)."""
    level = summary["level"]
    fig, axes = plt.subplots(2, 2, figsize=(16, 14))
    bins = np.linspace(0, 1, 21)
    for ax, test, name in ((axes[0, 0], "chi2", "chi-square"), (axes[0, 1], "ks", "Kolmogorov-Smirnov")):
        t = table[table.test == test]
        for which, color, ls in (("clean", CLEAN, "-"), ("adversarial", ADV, "--")):
            p = t[f"p_value_{which}"].dropna().to_numpy()
            s = summary[which]
            ax.hist(p, bins, histtype="step", color=color, ls=ls, lw=2,
                    label=f"{which}: {s[f'{test}_failing']}/{s[f'{test}_tested']} with p < {level:g}")
        ax.axvline(level, color="k", lw=1, ls=":")
        ax.set_xlabel(f"{name} p-value per feature")
        ax.set_ylabel("Features")
        ax.set_xlim(0, 1)
        ax.legend(fontsize=13)
    d = len(features)
    for ax, which in ((axes[1, 0], "clean"), (axes[1, 1], "adversarial")):
        M = pull_matrix(table, features, which)
        im = ax.imshow(M, cmap="RdBu_r", vmin=-4, vmax=4)
        s = summary[which]
        ax.set_title(f"Correlation pulls, {which}: {s['pull_failing']}/{s['pull_tested']} with |pull| > "
                     f"{summary['pull_limit']:g}", fontsize=15)
        ticks = np.arange(d)
        ax.set_xticks(ticks, features, rotation=90, fontsize=max(6, 14 - d // 5))
        ax.set_yticks(ticks, features, fontsize=max(6, 14 - d // 5))
        ax.minorticks_off()
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="pull")
        if d <= 10:
            for (r, c), v in np.ndenumerate(M):
                if np.isfinite(v):
                    ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=12)
    fig.suptitle(f"Attacked set ({summary['n_attacked']} events) vs independent sample "
                 f"({summary['n_independent']} events)", fontsize=18)
    fig.tight_layout()
    return fig
