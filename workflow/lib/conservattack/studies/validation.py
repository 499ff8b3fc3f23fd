"""Validation of an attack against an independent sample (docs/method.md section 9): the clean and
the adversarial attacked sets are each compared with an independent clean sample of the same
classes, as simulation is compared with data.

- per feature, the two-sample chi-square test of the two histograms (``histogram_chi2``, bins
  merged left to right until every expected count is at least 5) and the two-sample
  Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``);
- per pair of features, the pull of the Pearson coefficient, its difference to the independent
  sample's divided by the bootstrap uncertainty of both (``correlation_bootstrap``).

``validate`` runs the three on one sample, ``validate_pair`` on the clean and the adversarial set
against the same independent sample (one bootstrap of the independent sample for both).
Pure numpy, scipy and pandas; nothing here is imported by the attack.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..attacks.calibration import resample_indices, weighted_pearson
from ..attacks.running_stats import feature_bin_edges

__all__ = ["MIN_EXPECTED", "PULL_LIMIT", "TESTS", "attack_edges", "check_independent", "correlation_bootstrap",
           "histogram_chi2", "histograms", "merge_bins", "pulls", "summary_line", "summary_row", "validate",
           "validate_pair", "validation_verdict"]

# a merged bin's smallest expected count under the pooled hypothesis
MIN_EXPECTED = 5.0
# a correlation coefficient fails when its |pull| exceeds this (4.55 % of a standard normal)
PULL_LIMIT = 2.0
TESTS = ("chi2", "ks", "pull")


def attack_edges(X_clean: np.ndarray, num_bins: int) -> np.ndarray:
    """The attack's bins: ``num_bins`` equal-width bins per feature over the clean attacked set's
    [min, max] (docs/method.md section 2.2), shape (d, num_bins + 1)."""
    X_clean = np.asarray(X_clean, np.float64)
    return feature_bin_edges(X_clean.min(axis=0), X_clean.max(axis=0), num_bins)


def histograms(X: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per feature in ``edges`` (d, B+1); values outside a feature's range are counted in
    its first or last bin (an independent sample reaches beyond the attacked set's extremes)."""
    X = np.asarray(X, np.float64)
    out = np.empty((X.shape[1], edges.shape[1] - 1), np.int64)
    for j in range(X.shape[1]):
        out[j], _ = np.histogram(np.clip(X[:, j], edges[j, 0], edges[j, -1]), edges[j])
    return out


def merge_bins(a, b, min_expected: float = MIN_EXPECTED) -> tuple[np.ndarray, np.ndarray]:
    """Adjacent bins of the two histograms merged left to right until each merged bin's expected
    counts under the pooled hypothesis, (a_i + b_i) N / (N + M) and (a_i + b_i) M / (N + M), are
    both at least ``min_expected``; a remainder that never gets there joins the last merged bin
    (or is the only bin). Returns the merged counts (a', b')."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    N, M = a.sum(), b.sum()
    share = min(N, M) / (N + M)  # the smaller expected count is (a_i + b_i) * share
    merged_a, merged_b = [], []
    acc_a = acc_b = 0
    for x, y in zip(a.tolist(), b.tolist()):
        acc_a, acc_b = acc_a + x, acc_b + y
        if (acc_a + acc_b) * share >= min_expected:
            merged_a.append(acc_a)
            merged_b.append(acc_b)
            acc_a = acc_b = 0
    if acc_a or acc_b or not merged_a:
        if merged_a:
            merged_a[-1] += acc_a
            merged_b[-1] += acc_b
        else:
            merged_a, merged_b = [acc_a], [acc_b]
    return np.asarray(merged_a, np.int64), np.asarray(merged_b, np.int64)


def histogram_chi2(a, b, min_expected: float = MIN_EXPECTED) -> tuple[float, int, float]:
    """Two-sample chi-square of two histograms with totals N and M (the test of homogeneity of the
    2 x k table), after ``merge_bins``: chi2 = sum_i (sqrt(M/N) a_i - sqrt(N/M) b_i)^2 / (a_i + b_i),
    ndf = merged bins - 1. Returns (chi2, ndf, p); with one merged bin (nothing to compare) the
    test is not made: (nan, 0, nan)."""
    a, b = merge_bins(a, b, min_expected)
    if len(a) < 2:
        return float("nan"), 0, float("nan")
    N, M = float(a.sum()), float(b.sum())
    af, bf = a.astype(np.float64), b.astype(np.float64)
    chi2 = float(np.sum((np.sqrt(M / N) * af - np.sqrt(N / M) * bf) ** 2 / (af + bf)))
    ndf = len(a) - 1
    return chi2, ndf, float(stats.chi2.sf(chi2, ndf))


def correlation_bootstrap(X: np.ndarray, resamples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The Pearson matrix of ``X`` (n, d) and its bootstrap standard deviation (ddof=1) over
    ``resamples`` resamples of the events with replacement.

    Resample b draws ``rng.integers(0, n, n)`` (in order b = 0, 1, ...) and enters as the count of
    each event in it (``attacks.calibration.weighted_pearson``, as the calibrated constraints'
    budgets do). A feature constant in a resample gives NaN there (ignored by the standard
    deviation)."""
    X = np.asarray(X, np.float64)
    n, d = X.shape
    if resamples < 2:
        raise ValueError(f"validation.resamples: {resamples}; at least 2 bootstrap resamples are needed")
    C = np.empty((resamples, d, d))
    with np.errstate(divide="ignore", invalid="ignore"):
        for b in range(resamples):
            C[b] = weighted_pearson(X, np.bincount(resample_indices(rng, n), minlength=n).astype(np.float64))
        corr = np.corrcoef(X, rowvar=False) if d > 1 else np.ones((1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pairs of a constant feature
        sigma = np.nanstd(C, axis=0, ddof=1)
    return np.atleast_2d(corr), sigma


def pulls(C_sample, sigma_sample, C_indep, sigma_indep) -> np.ndarray:
    """pull_jk = (C_jk(sample) - C_jk(independent)) / sqrt(sigma_sample_jk^2 + sigma_indep_jk^2)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (C_sample - C_indep) / np.sqrt(sigma_sample ** 2 + sigma_indep ** 2)


def check_independent(independent, features: Sequence[str], num_bins: int, name: str = "independent sample") -> None:
    """The independent sample must have every feature as a column and at least ``num_bins`` events:
    a ValueError naming ``name``, the missing column(s) or the count, and what is expected."""
    if isinstance(independent, pd.DataFrame):
        missing = [f for f in features if f not in independent.columns]
        if missing:
            raise ValueError(f"{name}: no column {', '.join(repr(m) for m in missing)}; the validation needs every "
                             f"feature of the attacked set: {list(features)}")
        n = len(independent)
    else:
        independent = np.asarray(independent)
        if independent.ndim != 2 or independent.shape[1] != len(features):
            raise ValueError(f"{name}: shape {independent.shape}; expected (events, {len(features)}) with the "
                             f"features {list(features)}")
        n = independent.shape[0]
    if n < num_bins:
        raise ValueError(f"{name}: {n} event(s), fewer than num_bins = {num_bins}; the validation needs at least "
                         "as many independent events as the attack has bins (more: at least 5 expected per merged bin)")


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), stream]))


def _table(X, features, edges, h_indep, indep, C_i, s_i, resamples, rng, level) -> pd.DataFrame:
    X = np.asarray(X, np.float64)
    h = histograms(X, edges)
    rows = []
    for j, f in enumerate(features):
        chi2, ndf, p = histogram_chi2(h[j], h_indep[j])
        rows.append((f, "chi2", chi2, ndf, p, bool(p < level)))
        ks = stats.ks_2samp(X[:, j], indep[:, j])
        rows.append((f, "ks", float(ks.statistic), np.nan, float(ks.pvalue), bool(ks.pvalue < level)))
    C, s = correlation_bootstrap(X, resamples, rng)
    pull = pulls(C, s, C_i, s_i)
    for j, k in zip(*np.triu_indices(len(features), 1)):
        v = float(pull[j, k])
        p = float(2 * stats.norm.sf(abs(v))) if np.isfinite(v) else np.nan
        rows.append((f"{features[j]}|{features[k]}", "pull", v, np.nan, p, bool(abs(v) > PULL_LIMIT)))
    return pd.DataFrame(rows, columns=["item", "test", "statistic", "ndf", "p_value", "fails"])


def _summary(table: pd.DataFrame) -> dict:
    out = {}
    for test in TESTS:
        t = table[table.test == test]
        tested = int(t.p_value.notna().sum())
        failing = int(t.fails.sum())
        out[f"{test}_tested"] = tested
        out[f"{test}_failing"] = failing
        out[f"{test}_fail_fraction"] = failing / tested if tested else float("nan")
    return out


def validate(sample, independent, edges, resamples: int = 200, seed: int = 0, level: float = 0.05,
             features: Sequence[str] | None = None) -> tuple[pd.DataFrame, dict]:
    """One sample (n, d) against the independent sample (m, d), in ``edges`` (d, B+1).

    Returns the table (item: feature or ``a|b`` pair; test: chi2, ks or pull; statistic: chi2,
    KS distance or pull; ndf: chi-square's degrees of freedom; p_value: the test's p-value, for a
    pull the two-sided normal one; fails: p < ``level``, for a pull |pull| > 2) and the summary
    (per test: tested, failing, fail fraction)."""
    features = list(features) if features is not None else [f"x{j}" for j in range(np.shape(sample)[1])]
    indep = np.asarray(independent, np.float64)
    check_independent(indep, features, edges.shape[1] - 1)
    C_i, s_i = correlation_bootstrap(indep, resamples, _rng(seed, 0))
    table = _table(sample, features, edges, histograms(indep, edges), indep, C_i, s_i, resamples,
                   _rng(seed, 1), level)
    return table, _summary(table)


def validate_pair(clean, adversarial, independent, edges, resamples: int = 200, seed: int = 0, level: float = 0.05,
                  features: Sequence[str] | None = None) -> tuple[pd.DataFrame, dict]:
    """``validate`` of the clean and of the adversarial set against the same independent sample, with
    one bootstrap of the independent sample for both and the same resampled event indices for the
    two sets (they hold the same events, moved or not). Returns one table, a row per item and test
    with the columns of ``validate`` suffixed ``_clean`` and ``_adversarial``, and the summary
    ``{"clean": ..., "adversarial": ..., "n_attacked", "n_independent", "level", "resamples"}``."""
    features = list(features) if features is not None else [f"x{j}" for j in range(np.shape(clean)[1])]
    indep = np.asarray(independent, np.float64)
    check_independent(indep, features, edges.shape[1] - 1)
    C_i, s_i = correlation_bootstrap(indep, resamples, _rng(seed, 0))
    h_indep = histograms(indep, edges)
    parts = {}
    # the two sets hold the same events: the same resamples (stream 1) for both, so that identical
    # sets get identical rows and a difference between them comes from the attack's moves alone
    for name, X in (("clean", clean), ("adversarial", adversarial)):
        parts[name] = _table(X, features, edges, h_indep, indep, C_i, s_i, resamples, _rng(seed, 1), level)
    table = parts["clean"].merge(parts["adversarial"], on=["item", "test"], suffixes=("_clean", "_adversarial"))
    summary = {"clean": _summary(parts["clean"]), "adversarial": _summary(parts["adversarial"]),
               "n_attacked": int(np.shape(clean)[0]), "n_independent": int(indep.shape[0]),
               "n_features": len(features), "level": level, "pull_limit": PULL_LIMIT, "resamples": resamples,
               "min_expected": MIN_EXPECTED}
    return table, summary


def summary_line(summary: dict) -> str:
    """One line: the fractions failing per test, clean beside adversarial."""
    parts = []
    for test, what in (("chi2", f"chi2 p < {summary['level']:g}"), ("ks", f"KS p < {summary['level']:g}"),
                       ("pull", f"|pull| > {summary['pull_limit']:g}")):
        c, a = summary["clean"], summary["adversarial"]
        parts.append(f"{what}: clean {c[f'{test}_failing']}/{c[f'{test}_tested']}, "
                     f"adversarial {a[f'{test}_failing']}/{a[f'{test}_tested']}")
    return "; ".join(parts)


def summary_row(summary: dict) -> dict:
    """One attack's summary as a flat row: per test, failing / tested / fraction, clean and adversarial."""
    row = {"n_attacked": summary["n_attacked"], "n_independent": summary["n_independent"]}
    for test in TESTS:
        for which in ("clean", "adversarial"):
            s = summary[which]
            row[f"{test}_failing_{which}"] = s[f"{test}_failing"]
            row[f"{test}_tested_{which}"] = s[f"{test}_tested"]
            row[f"{test}_fail_fraction_{which}"] = s[f"{test}_fail_fraction"]
    return row


def validation_verdict(table: pd.DataFrame, level: float, attack: str = "attack") -> str:
    """The verdict's sentence: do the adversaries of ``attack`` (a folder of the per-dataset
    validation table) fail the standard checks more often than the clean simulation does?

    Per test, the failing features (correlations for the pulls) are pooled over runs. The
    adversaries fail "more often" when their pooled fraction exceeds the clean one by more than
    two binomial standard deviations of the difference, sqrt(f (1 - f) (1/n_clean + 1/n_adv))
    with f the fraction of both pooled (runs share the independent sample, so this is a guide,
    not a test); otherwise "at about the clean rate"."""
    t = table[table.attack == attack]
    if t.empty:
        return f"- Validation against an independent sample: no `{attack}` attack was validated."
    parts, worse = [], []
    for test, what in (("chi2", "chi-square"), ("ks", "KS"), ("pull", "correlation pulls")):
        fc, tc = t[f"{test}_failing_clean"].sum(), t[f"{test}_tested_clean"].sum()
        fa, ta = t[f"{test}_failing_adversarial"].sum(), t[f"{test}_tested_adversarial"].sum()
        if not tc or not ta:
            continue
        pooled = (fc + fa) / (tc + ta)
        sigma = np.sqrt(pooled * (1 - pooled) * (1 / tc + 1 / ta))
        more = fa / ta - fc / tc > 2 * sigma
        if more:
            worse.append(what)
        parts.append(f"{what} {fa / ta:.3f} ({int(fa)}/{int(ta)}) vs clean {fc / tc:.3f} ({int(fc)}/{int(tc)})")
    how = (f"**more often** than the clean simulation does ({', '.join(worse)})" if worse
           else "at about the clean rate")
    return (f"- Validation against an independent sample (validation split, attacked classes; {len(t)} runs): "
            f"the adversaries fail the standard checks {how}. Fraction failing (p < {level:g}; pulls: |pull| > "
            f"{PULL_LIMIT:g}), adversarial vs clean: " + "; ".join(parts) + ".")
