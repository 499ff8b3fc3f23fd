"""Figures of the attack and detector studies (docs/method.md section 4), in mplhep style, written
as PNG and PDF (``save``)."""

from __future__ import annotations

from typing import Sequence

import matplotlib
import mplhep as hep
import numpy as np
import pandas as pd

from ..attacks.running_stats import bin_edges
from .style import ADV, CLEAN, FOOL, SIG, plt, save, subsample

__all__ = ["ATTACK_METRICS", "acceptance_curves", "adversarial_training", "correlation_matrices", "cross_run_matrix",
           "detector_point_clouds", "fooling_vs_iteration", "jsd_extremes", "marginals", "metrics_per_run",
           "point_clouds", "ratio_with_uncertainty", "repeated_misclassification", "save"]


def point_clouds(signal, clean, adv, fooled, features: Sequence[str], unit: str = "a.u.", n_max=4000, seed: int = 0):
    """Paper figures 17-20: clean signal and background, adversarial background, fooling adversaries.
    A layer of more than ``n_max`` points shows a random ``n_max`` of them, drawn with ``seed``."""
    fig, axes = plt.subplots(2, 2, figsize=(13, 12), sharex=True, sharey=True)
    panels = [
        ("Clean signal and background", [(signal, SIG, "signal"), (clean, CLEAN, "background")]),
        ("Adversarial background", [(adv, ADV, "adversarial background")]),
        ("Fooling adversaries", [(adv[fooled], FOOL, f"fooling ({fooled.sum()} events)")]),
        ("Clean vs fooling", [(clean[fooled], CLEAN, "clean"), (adv[fooled], FOOL, "adversarial")]),
    ]
    for ax, (title, layers) in zip(axes.ravel(), panels):
        for X, color, label in layers:
            X = subsample(X, n_max, seed)
            ax.scatter(X[:, 0], X[:, 1], s=2, alpha=0.5, color=color, label=label, rasterized=True)
        ax.set_title(title, fontsize=18)
        ax.legend(fontsize=13, markerscale=5, loc="upper right")
    for ax in axes[1]:
        ax.set_xlabel(f"{features[0]} [{unit}]")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{features[1]} [{unit}]")
    return fig


def jsd_extremes(jsd, X_clean) -> tuple[np.ndarray, list[str] | None]:
    """The features whose marginals an attack's figure shows, and their panel titles: those of
    least, median and largest JSD among the features that vary in the clean set (a constant,
    e.g. zero-padded, feature has JSD 0 and nothing to show); all of them, untitled, when at most
    three vary."""
    jsd = np.asarray(jsd, dtype=np.float64)
    X_clean = np.asarray(X_clean)
    varying = np.flatnonzero(X_clean.min(axis=0) != X_clean.max(axis=0))
    order = varying[np.argsort(jsd[varying], kind="stable")]
    if len(order) <= 3:
        return order, None
    return order[[0, len(order) // 2, -1]], ["min JSD", "median JSD", "max JSD"]


def ratio_with_uncertainty(h_num, h_den):
    """The ratio of two histograms of equal totals, bin by bin, and its statistical uncertainty from
    the Poisson uncertainties of both counts, sigma_r = r sqrt(1/a + 1/c) (a, c the counts; the
    two are treated as independent, which overstates it where the sets share events). NaN where a
    count is zero (for the uncertainty) or the denominator is (for both)."""
    a, c = np.asarray(h_num, np.float64), np.asarray(h_den, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(c > 0, a / c, np.nan)
        sigma = np.where((a > 0) & (c > 0), ratio * np.sqrt(1 / a + 1 / c), np.nan)
    return ratio, sigma


def marginals(clean, adv, features: Sequence[str], jsd, num_bins: int, units: Sequence[str] | None = None,
              signal=None, titles: Sequence[str] | None = None):
    """Clean vs adversarial marginals with ratio panels, in the attack's bins (physical units); the
    ratio's error bars are the Poisson uncertainties of both counts (``ratio_with_uncertainty``).

    ``units`` per feature ("" for none); arbitrary units ("a.u.") when not given."""
    k = len(features)
    fig, axes = plt.subplots(2, k, figsize=(8.5 * k, 8), gridspec_kw={"height_ratios": [3, 1]},
                             sharex="col", squeeze=False)
    for c in range(k):
        lo, hi = clean[:, c].min(), clean[:, c].max()
        edges = bin_edges(lo, hi, num_bins)
        h_clean, _ = np.histogram(clean[:, c], edges)
        h_adv, _ = np.histogram(adv[:, c], edges)
        top, bottom = axes[0, c], axes[1, c]
        if signal is not None:
            h_sig, _ = np.histogram(np.clip(signal[:, c], lo, hi), edges)
            hep.histplot(h_sig / max(h_sig.sum(), 1), edges, ax=top, color=SIG, label="signal (clean)", ls=":")
        hep.histplot(h_clean / h_clean.sum(), edges, ax=top, color=CLEAN, label="clean")
        hep.histplot(h_adv / h_adv.sum(), edges, ax=top, color=ADV, label="adversarial", ls="--")
        top.set_ylabel("Fraction of events")
        top.legend(title=f"JSD = {jsd[c]:.4f}", fontsize=13, title_fontsize=13)
        if titles is not None:
            top.set_title(titles[c], fontsize=16)
        ratio, sigma = ratio_with_uncertainty(h_adv, h_clean)
        bottom.errorbar((edges[1:] + edges[:-1]) / 2, ratio, yerr=sigma, fmt="o", ms=3, color=ADV, elinewidth=1,
                        capsize=0)
        bottom.axhline(1.0, color="k", lw=1)
        bottom.set_ylim(0.5, 1.5)
        bottom.set_ylabel("adv. / clean")
        unit = units[c] if units is not None else "a.u."
        bottom.set_xlabel(f"{features[c]} [{unit}]" if unit else features[c])
    fig.tight_layout()
    return fig


def correlation_matrices(C_clean, C_adv, features: Sequence[str], kind: str = "Pearson"):
    """Paper figure 2 style: clean, adversarial, and their difference."""
    d = len(features)
    size = max(6.0, 0.35 * d)
    fig, axes = plt.subplots(1, 3, figsize=(3.4 * size, size))
    diff = C_adv - C_clean
    lim = max(float(np.abs(diff).max()), 1e-12)
    for ax, M, title, cmap, vmin, vmax in (
        (axes[0], C_clean, f"Clean {kind} correlation", "RdBu_r", -1, 1),
        (axes[1], C_adv, f"Adversarial {kind} correlation", "RdBu_r", -1, 1),
        (axes[2], diff, "Adversarial - clean", "PiYG", -lim, lim),
    ):
        im = ax.imshow(M, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(title, fontsize=16)
        ticks = np.arange(d)
        ax.set_xticks(ticks, features, rotation=90, fontsize=max(6, 14 - d // 5))
        ax.set_yticks(ticks, features, fontsize=max(6, 14 - d // 5))
        ax.minorticks_off()
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        if d <= 10:
            for (r, c), v in np.ndenumerate(M):
                ax.text(c, r, f"{v:.3g}", ha="center", va="center", fontsize=11)
    fig.tight_layout()
    return fig


ATTACK_METRICS = [("fooling_ratio", "Fooling ratio"), ("jsd_mean", "Mean JSD"), ("relative_fn", "Relative FN")]


def metrics_per_run(per_run: pd.DataFrame, paper: dict[str, float | None] | None = None, cols=ATTACK_METRICS):
    """Paper figures 3-5 style: one panel per metric (default: fooling ratio, mean JSD and relative
    FN) with each run, the mean and its +- 1 std band, and the paper's value where it has one."""
    fig, axes = plt.subplots(1, len(cols), figsize=(7 * len(cols), 6), squeeze=False)
    axes = axes[0]
    runs = np.arange(len(per_run))
    for ax, (col, label) in zip(axes, cols):
        v = per_run[col].to_numpy(float)
        ax.plot(runs, v, "o", color=ADV, label="run")
        m, s = v.mean(), (v.std(ddof=1) if len(v) > 1 else 0.0)
        ax.axhline(m, color="k", lw=1.5, label=f"mean {m:.3g} $\\pm$ {s:.2g}")
        ax.axhspan(m - s, m + s, color="k", alpha=0.12)
        if paper and paper.get(col) is not None:
            ax.axhline(paper[col], color=CLEAN, ls="--", label=f"paper {paper[col]:.3g}")
        ax.set_xticks(runs, [str(r) for r in per_run["run"]])
        ax.set_xlabel("Run (seed)")
        ax.set_ylabel(label)
        ax.legend(fontsize=13)
    fig.tight_layout()
    return fig


def cross_run_matrix(M: pd.DataFrame, title: str = "Cross-run fooling ratio (diagonal: white-box)",
                     label: str = "Fooling ratio"):
    """Fooling ratio of run s's adversaries (rows) on run t's model (columns)."""
    A = M.to_numpy(float)
    fig, ax = plt.subplots(figsize=(1.1 * len(A) + 4, 1.0 * len(A) + 3))
    im = ax.imshow(A, cmap="viridis", vmin=0, vmax=max(1e-9, float(np.nanmax(A))))
    labels = [str(c) for c in M.columns]
    ax.set_xticks(range(len(A)), labels)
    ax.set_yticks(range(len(A)), [str(i) for i in M.index])
    ax.minorticks_off()
    ax.set_xlabel("Model of run")
    ax.set_ylabel("Adversaries of run")
    for (r, c), v in np.ndenumerate(A):
        ax.text(c, r, f"{v:.2f}", ha="center", va="center", color="w" if v < 0.6 * np.nanmax(A) else "k",
                fontsize=12)
    fig.colorbar(im, ax=ax, label=label)
    ax.set_title(title, fontsize=16)
    return fig


def fooling_vs_iteration(histories: dict[str, list[dict]]):
    """Fooling ratio after each attack iteration, one line per run."""
    fig, ax = plt.subplots(figsize=(9, 6.5))
    for run, hist in histories.items():
        ax.plot([h["iteration"] for h in hist], [h["fooling_ratio"] for h in hist], "o-", label=f"run {run}")
    ax.set_xlabel("Attack iteration")
    ax.set_ylabel("Fooling ratio")
    ax.legend(fontsize=12, ncol=2)
    return fig


def repeated_misclassification(table: pd.DataFrame):
    """Paper figure 15: clean events flagged in k of R detector runs, observed vs binomial
    expectation; bins with a significant Poisson excess marked with their significance Z."""
    fig, ax = plt.subplots(figsize=(10, 7))
    k = table["k"].to_numpy()
    ax.bar(k, table["expected"], width=0.8, color=CLEAN, alpha=0.4, label="expected (binomial)")
    ax.errorbar(k, table["observed"], yerr=np.sqrt(table["observed"]), fmt="o", color="k", label="observed")
    sig = table["significant"].to_numpy(bool)
    if sig.any():
        ax.plot(k[sig], table["observed"][sig], "*", ms=18, color=ADV, label="p < significance level")
        for kk, obs, z in zip(k[sig], table["observed"][sig], table["z_value"][sig]):
            ax.annotate(f"{z:.1f}$\\sigma$", (kk, obs), xytext=(0, 14), textcoords="offset points",
                        ha="center", fontsize=12, color=ADV)
    ax.set_yscale("log")
    # a decade of headroom above the highest point for the Z labels and the legend
    ax.set_ylim(top=10 * max(table["observed"].max(), table["expected"].max()))
    ax.set_xlabel("Detector runs flagging the clean event (k)")
    ax.set_ylabel("Clean events")
    ax.set_xticks(k)
    ax.legend(fontsize=13)
    return fig


def acceptance_curves(curves: dict[str, pd.DataFrame]):
    """Paper figure 16: clean acceptance versus detector threshold, mean and spread over runs."""
    fig, ax = plt.subplots(figsize=(10, 7))
    for (name, c), color in zip(curves.items(), (CLEAN, ADV, SIG)):
        t = c["threshold"].to_numpy()
        ax.plot(t, c["mean"], color=color, label=f"{name} clean events (mean over runs)")
        ax.fill_between(t, c["mean"] - c["std"], c["mean"] + c["std"], color=color, alpha=0.25,
                        label=f"{name}: $\\pm$ 1 std")
    ax.set_xlabel("Detector threshold on P(clean)")
    ax.set_ylabel("Clean acceptance")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=13)
    return fig


def detector_point_clouds(clean, adv, fooled, passed, features: Sequence[str], unit: str = "a.u.", n_max=4000,
                          seed: int = 0):
    """Paper figure 21: fooling adversaries that pass the detector and those it catches (layers of
    more than ``n_max`` points subsampled with ``seed``, as in point_clouds)."""
    fig, axes = plt.subplots(1, 3, figsize=(20, 7), sharex=True, sharey=True)
    panels = [("Clean background", [(clean, CLEAN, "clean")]),
              ("Fooling adversaries passing the detector", [(adv[fooled & passed], ADV, "pass")]),
              ("Fooling adversaries caught by the detector", [(adv[fooled & ~passed], FOOL, "caught")])]
    for ax, (title, layers) in zip(axes, panels):
        for X, color, label in layers:
            X = subsample(X, n_max, seed)
            ax.scatter(X[:, 0], X[:, 1], s=2, alpha=0.5, color=color, label=f"{label} ({len(X)} shown)",
                       rasterized=True)
        ax.set_title(title, fontsize=16)
        ax.set_xlabel(f"{features[0]} [{unit}]")
        ax.legend(fontsize=12, markerscale=5, loc="upper right")
    axes[0].set_ylabel(f"{features[1]} [{unit}]")
    return fig


def adversarial_training(per_run: pd.DataFrame, models: pd.DataFrame, paper: dict[str, float | None] | None = None):
    """Paper figures 12, 31: per run, the grey-box fooling ratio of the base model, the mean over
    the iterations and the best iteration; grey- and white-box fooling ratio per iteration; clean
    test AUROC per iteration (the price of robustness). ``per_run`` from
    ``adversarial_training.summarise_runs``, ``models`` one row per (model_run, iteration)."""
    paper = paper or {}
    fig, axes = plt.subplots(1, 3, figsize=(25, 7.5))
    runs = per_run["run"].to_numpy()
    ax = axes[0]
    for (col, label, marker, color) in (("advtrain_grey_box_base", "base model", "o", CLEAN),
                                        ("advtrain_grey_box_mean", "mean over iterations", "s", FOOL),
                                        ("advtrain_grey_box_best", "best iteration", "^", SIG)):
        v = per_run[col].to_numpy(float)
        ax.plot(runs, v, marker, color=color, ms=9, label=f"{label}: {np.nanmean(v):.3g}")
        ax.axhline(np.nanmean(v), color=color, lw=1)
        if paper.get(col) is not None:
            ax.axhline(paper[col], color=color, ls="--", lw=1.5, label=f"paper {paper[col]:.2g}")
    ax.set_xticks(runs, [str(r) for r in runs])
    ax.set_xlabel("Run (seed)")
    ax.set_ylabel("Grey-box fooling ratio")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=12)
    ax = axes[1]
    for col, label, ls in (("grey_box", "grey-box (other runs' adversaries)", "-"),
                           ("white_box", "white-box (own run's adversaries)", "--")):
        g = models.groupby("iteration")[col]
        m, s = g.mean(), g.std(ddof=1).fillna(0.0)
        ax.plot(m.index, m.to_numpy(), "o" + ls, color=ADV if col == "grey_box" else "k", label=label)
        ax.fill_between(m.index, m - s, m + s, color=ADV if col == "grey_box" else "k", alpha=0.12)
    ax.set_xlabel("Iteration (0: base model)")
    ax.set_ylabel("Fooling ratio (mean $\\pm$ std)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=12)
    ax = axes[2]
    for run, m in models.groupby("model_run"):
        ax.plot(m["iteration"], m["auroc"], "-", color="0.6", lw=1)
    mean = models.groupby("iteration")["auroc"].mean()
    ax.plot(mean.index, mean.to_numpy(), "o-", color=CLEAN, lw=2, label="mean over runs (grey: each run)")
    ax.set_xlabel("Iteration (0: base model)")
    ax.set_ylabel("Clean test AUROC")
    ax.legend(fontsize=12)
    for ax in axes[1:]:
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.tight_layout(w_pad=3)
    return fig
