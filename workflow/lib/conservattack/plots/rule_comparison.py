"""The figure of the rule comparison (docs/studies.md, "Exact and reference rule"): per rule and
chunk count, the fooling ratio, the mean JSD and the relative FN of every compared run, as the
exact rule measures them and as the authors' code reports them, and what the chunks left
unconstrained."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .style import ADV, CLEAN, FOOL, SIG, plt

__all__ = ["rule_comparison"]

# (column measured as the exact rule measures it, the authors' reported one or None, axis label)
_PANELS = [("fooling_ratio", None, "Fooling ratio"),
           ("jsd_mean", "reported_jsd_mean", "Mean JSD of the marginals"),
           ("relative_fn", "reported_relative_fn", "Relative FN, whole Pearson matrix"),
           ("within_chunk_max_shift", "cross_chunk_max_shift", "Largest change of one correlation")]
_LEGEND = {"fooling_ratio": "per run", "jsd_mean": "as the exact rule measures it",
           "relative_fn": "as the exact rule measures it", "within_chunk_max_shift": "within a chunk"}
_REPORTED = {"reported_jsd_mean": "as the authors' code reports it",
             "reported_relative_fn": "as the authors' code reports it",
             "cross_chunk_max_shift": "across chunks (never checked)"}


def rule_comparison(table: pd.DataFrame, paper: dict[str, float | None] | None = None):
    """One panel per metric, the settings (``exact``, ``reference, k chunks``) along x in the
    table's order: each run's value (filled; open: the authors' reported value, or the shift of a
    correlation across chunks), the mean over runs as a bar, the paper's value dashed. ``table``:
    rule_comparison.csv."""
    paper = paper or {}
    settings = list(dict.fromkeys(table["setting"]))
    fig, axes = plt.subplots(1, len(_PANELS), figsize=(7 * len(_PANELS), 6.5))
    for ax, (col, reported, label) in zip(axes, _PANELS):
        labelled = set()
        for x, setting in enumerate(settings):
            rows = table[table["setting"] == setting]
            color = CLEAN if setting == "exact" else (ADV, FOOL, SIG)[x % 3]
            for column, dx, filled in ((col, -0.12, True), (reported, 0.12, False)):
                if column is None:
                    continue
                v = rows[column].to_numpy(float)
                if np.isnan(v).all():
                    continue
                offsets = np.linspace(-0.06, 0.06, len(v)) if len(v) > 1 else np.zeros(1)
                ax.plot(x + dx + offsets, v, "o", ms=8, color=color, mfc=color if filled else "none")
                if column not in labelled:  # the legend in grey: the colours are the settings
                    ax.plot([], [], "o", ms=8, color="0.4", mfc="0.4" if filled else "none",
                            label=(_LEGEND if filled else _REPORTED)[column])
                labelled.add(column)
                ax.hlines(np.nanmean(v), x + dx - 0.1, x + dx + 0.1, color="k", lw=2)
        if paper.get(col) is not None:
            ax.axhline(paper[col], color="k", ls="--", lw=1.2, label=f"paper {paper[col]:.3g}")
        ax.set_xticks(range(len(settings)), [s.replace(", ", "\n") for s in settings], fontsize=14)
        ax.set_xlim(-0.5, len(settings) - 0.5)
        ax.minorticks_off()
        ax.set_ylabel(label)
        top = np.nanmax([*table[[c for c in (col, reported) if c]].to_numpy(float).ravel(), paper.get(col) or 0, 0])
        ax.set_ylim(0, 1.4 * top if top > 0 else 1)  # room for the legend above the markers
        ax.legend(fontsize=11, loc="upper left")
    fig.tight_layout(w_pad=2)
    return fig
