"""The size-scaling figure (docs/method.md section 8.7): fooling ratio, mean JSD and relative FN
versus the attacked-set size, one line per rule configuration, the paper's number as a reference."""

from __future__ import annotations

from typing import Mapping

import matplotlib.ticker
import numpy as np
import pandas as pd

from ..studies.scaling import METRICS, RuleConfig
from .style import plt, save

__all__ = ["PANELS", "scaling_figure", "save"]

PANELS = {"fooling_ratio": "Fooling ratio", "jsd_mean": "Mean JSD (max: dotted)", "relative_fn": "Relative FN"}
_STYLE = {"exact": ("k", "o"), "reference_c1": ("#1f77b4", "s"), "reference_c2": ("#9467bd", "v"),
          "reference_c4": ("#d62728", "^"), "reference_c8": ("#ff7f0e", "D")}


def _count(n: int) -> str:
    """An event count for a tick: 800, 1.5k, 40k."""
    if n < 1000:
        return str(n)
    return f"{n / 1000:.3g}k"


def scaling_figure(table: pd.DataFrame, paper: Mapping[str, float] | None = None, title: str = "",
                   standin: bool = False):
    """One panel per metric of ``METRICS`` against the attacked-set size (log x), a line per rule
    configuration (``config`` of ``studies.scaling.scaling_table``); the mean JSD panel also shows
    the largest feature's JSD, dotted. ``paper``: {metric: the paper's value}, drawn as a dashed
    line. ``standin``: the data are a stand-in, said on every panel's axis and legend (the caller's
    ``title`` should say it too)."""
    fig, axes = plt.subplots(1, len(METRICS), figsize=(7 * len(METRICS), 6.2), squeeze=False)
    axes = axes[0]
    for k, config in enumerate(dict.fromkeys(table["config"])):
        rows = table[table["config"] == config].sort_values("size")
        colour, marker = _STYLE.get(config, (f"C{k}", "o"))
        label = RuleConfig.parse(config).label
        for ax, metric in zip(axes, METRICS):
            ax.plot(rows["size"], rows[metric], marker=marker, color=colour, label=label)
            if metric == "jsd_mean":
                ax.plot(rows["size"], rows["jsd_max"], ls=":", marker=marker, mfc="none", color=colour)
    for ax, metric in zip(axes, METRICS):
        value = (paper or {}).get(metric)
        if value is not None:
            ax.axhline(value, color="grey", ls="--", lw=1.5, label=f"paper {value:.3g} (full data)")
        ax.set_xscale("log")
        sizes = sorted(set(table["size"].astype(int)))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xticks(sizes, [_count(s) for s in sizes], rotation=45 if len(sizes) > 5 else 0)
        ax.set_xlabel("Attacked events" + (" (stand-in)" if standin else ""))
        ax.set_ylabel(PANELS[metric])
        low = float(np.nanmin(table[[metric, "jsd_max"]].to_numpy(float))) if metric == "jsd_mean" else 0.0
        ax.set_ylim(bottom=min(0.0, low))
        legend = ax.legend(fontsize=11, loc="best", title="stand-in data" if standin else None, title_fontsize=12)
        if standin:
            legend.get_title().set_color("#8c564b")
    if title:
        fig.suptitle(title, fontsize=16)
    fig.tight_layout()
    return fig
