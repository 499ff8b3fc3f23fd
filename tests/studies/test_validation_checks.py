"""Validation against an independent sample (conservattack.studies.validation, docs/method.md
section 9): the chi-square and KS tests against scipy, the bootstrap of the correlation pulls
against a direct loop, a shifted sample flagged, and the false-alarm rate on independent samples
of one distribution at the nominal level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conservattack.studies.validation import (MIN_EXPECTED, attack_edges, check_independent, correlation_bootstrap,
                                              histogram_chi2, histograms, merge_bins, validate, validate_pair)


def _counts(rng, k, scale):
    return rng.poisson(scale * np.exp(-np.linspace(-2, 2, k) ** 2), k)


@pytest.mark.parametrize("seed", range(8))
def test_chi2_is_the_homogeneity_test_of_the_merged_table(seed):
    rng = np.random.default_rng(seed)
    a, b = _counts(rng, 40, 60), _counts(rng, 40, 25)  # unequal totals, sparse tails
    ma, mb = merge_bins(a, b)
    assert ma.sum() == a.sum() and mb.sum() == b.sum()
    share = min(a.sum(), b.sum()) / (a.sum() + b.sum())
    assert ((ma + mb) * share >= MIN_EXPECTED).all()  # the remainder joined the last bin
    assert len(ma) < 40
    chi2, ndf, p = histogram_chi2(a, b)
    ref = stats.chi2_contingency(np.stack([ma, mb]), correction=False)
    assert ndf == ref.dof == len(ma) - 1
    assert chi2 == pytest.approx(ref.statistic, rel=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)


def test_merging_runs_left_to_right_and_the_remainder_joins_the_last_bin():
    # equal totals: share 1/2, a merged bin needs a_i + b_i >= 10
    a, b = np.array([3, 3, 10, 0, 1, 2]), np.array([2, 3, 10, 1, 1, 1])
    ma, mb = merge_bins(a, b)
    assert ma.tolist() == [6, 13] and mb.tolist() == [5, 13]
    # nothing reaches the threshold: one bin, no test
    assert histogram_chi2([1, 1], [1, 1])[1] == 0 and np.isnan(histogram_chi2([1, 1], [1, 1])[2])


def test_ks_is_scipys_on_the_right_columns():
    rng = np.random.default_rng(3)
    # each feature its own distribution: a column mix-up changes the statistics
    X = np.column_stack([rng.normal(0, 1, 800), rng.exponential(1, 800), rng.uniform(-1, 2, 800)])
    Y = np.column_stack([rng.normal(0.1, 1, 900), rng.exponential(1.1, 900), rng.uniform(-1, 2, 900)])
    table, _ = validate(X, Y, attack_edges(X, 20), resamples=20, seed=1, features=["a", "b", "c"])
    ks = table[table.test == "ks"].set_index("item")
    for j, f in enumerate("abc"):
        ref = stats.ks_2samp(X[:, j], Y[:, j])
        assert ks.loc[f, "statistic"] == ref.statistic and ks.loc[f, "p_value"] == ref.pvalue
    chi2 = table[table.test == "chi2"].set_index("item")
    edges = attack_edges(X, 20)
    hx, hy = histograms(X, edges), histograms(Y, edges)
    for j, f in enumerate("abc"):
        assert chi2.loc[f, "statistic"] == histogram_chi2(hx[j], hy[j])[0]


def test_independent_values_outside_the_range_go_to_the_edge_bins():
    edges = attack_edges(np.array([[0.0], [1.0]]), 4)
    assert histograms(np.array([[-5.0], [0.1], [1.0], [7.0]]), edges)[0].tolist() == [2, 0, 0, 2]


def test_bootstrap_sigma_equals_a_direct_loop():
    rng = np.random.default_rng(0)
    X = rng.multivariate_normal([0, 0, 0], [[1, 0.5, 0.2], [0.5, 1, -0.3], [0.2, -0.3, 1]], 57)
    C, sigma = correlation_bootstrap(X, 30, np.random.default_rng(11))
    loop = np.random.default_rng(11)
    reps = np.stack([np.corrcoef(X[loop.integers(0, 57, 57)], rowvar=False) for _ in range(30)])
    np.testing.assert_allclose(C, np.corrcoef(X, rowvar=False), rtol=0, atol=1e-12)
    np.testing.assert_allclose(sigma, reps.std(axis=0, ddof=1), rtol=0, atol=1e-10)


def test_the_bootstrap_is_vectorised_enough_for_seconds():
    import time

    X = np.random.default_rng(0).normal(size=(20000, 30))
    t = time.perf_counter()
    correlation_bootstrap(X, 200, np.random.default_rng(0))
    assert time.perf_counter() - t < 10  # about 1 s on the project's shared 2-core Xeon


def _gaussians(rng, n, rho=0.0, shift=0.0):
    cov = np.array([[1, rho, 0], [rho, 1, 0], [0, 0, 1]])
    X = rng.multivariate_normal([0, 0, 0], cov, n)
    X[:, 2] += shift
    return X


def test_a_shifted_sample_and_a_changed_correlation_are_flagged():
    rng = np.random.default_rng(5)
    clean, indep = _gaussians(rng, 5000), _gaussians(rng, 5000)
    adv = _gaussians(rng, 5000, rho=0.2, shift=0.15)
    table, summary = validate_pair(clean, adv, indep, attack_edges(clean, 50), resamples=100, seed=2,
                                   features=["a", "b", "c"])
    t = table.set_index(["item", "test"])
    assert t.loc[("c", "chi2"), "p_value_adversarial"] < 0.05 and t.loc[("c", "ks"), "p_value_adversarial"] < 0.05
    assert abs(t.loc[("a|b", "pull"), "statistic_adversarial"]) > 2
    assert not t.loc[("a|b", "pull"), "fails_clean"] and not t.loc[("c", "ks"), "fails_clean"]
    assert summary["adversarial"]["ks_failing"] >= 1 and summary["adversarial"]["pull_failing"] >= 1


# False alarms: PAIRS independent (sample, independent sample) pairs of one distribution, D
# independent features each (a normal, an exponential and a two-component mixture, so that tails
# and merged bins occur), edges from the sample as in the workflow. Each test's fraction of
# features with p < 0.05 must be 0.05 within 3 binomial standard deviations of PAIRS * D trials,
# sqrt(0.05 * 0.95 / 1200) = 0.0063, i.e. [0.031, 0.069]; the fraction of pulls beyond 2 (3 pairs
# of features per sample, 600 pulls, nearly independent for independent features), 0.0455 within
# 3 sigma = 0.0255, i.e. [0.020, 0.071] (a bootstrap sigma from 200 resamples makes the pull's
# tails a little heavier than a normal's).
PAIRS, LEVEL = 200, 0.05


def _mixed(rng, n):
    mix = np.where(rng.random(n) < 0.3, rng.normal(2, 0.3, n), rng.normal(0, 1, n))
    return np.column_stack([rng.normal(0, 1, n), rng.exponential(1, n), mix,
                            rng.normal(0, 1, n), rng.gamma(2, 1, n), rng.uniform(0, 1, n)])


@pytest.fixture(scope="module")
def false_alarms():
    rng = np.random.default_rng(20261206)
    tables = []
    for k in range(PAIRS):
        X, Y = _mixed(rng, 600), _mixed(rng, 900)
        table, _ = validate(X[:, :3], Y[:, :3], attack_edges(X[:, :3], 40), resamples=200, seed=k, level=LEVEL)
        t2, _ = validate(X[:, 3:], Y[:, 3:], attack_edges(X[:, 3:], 40), resamples=10, seed=k, level=LEVEL)
        tables += [table, t2[t2.test != "pull"]]
    return pd.concat(tables)


@pytest.mark.parametrize("test", ["chi2", "ks"])
def test_false_alarm_rate_of_the_feature_tests_is_the_nominal_level(false_alarms, test):
    t = false_alarms[false_alarms.test == test]
    assert len(t) == PAIRS * 6 and t.p_value.notna().all()
    sigma = np.sqrt(LEVEL * (1 - LEVEL) / len(t))
    rate = t.fails.mean()
    assert abs(rate - LEVEL) < 3 * sigma, f"{test}: {rate:.4f} vs {LEVEL} +- {3 * sigma:.4f}"


def test_false_alarm_rate_of_the_pulls_is_that_of_a_normal(false_alarms):
    t = false_alarms[false_alarms.test == "pull"]
    nominal = 2 * stats.norm.sf(2)
    sigma = np.sqrt(nominal * (1 - nominal) / len(t))
    rate = t.fails.mean()
    assert len(t) == PAIRS * 3
    assert abs(rate - nominal) < 3 * sigma, f"{rate:.4f} vs {nominal:.4f} +- {3 * sigma:.4f}"


def test_an_independent_sample_too_small_or_missing_a_feature_is_refused():
    with pytest.raises(ValueError, match=r"val.parquet: no column 'b'; .*\['a', 'b'\]"):
        check_independent(pd.DataFrame({"a": np.zeros(100)}), ["a", "b"], 10, name="val.parquet")
    with pytest.raises(ValueError, match=r"val.parquet: 9 event\(s\), fewer than num_bins = 10"):
        check_independent(pd.DataFrame({"a": np.zeros(9), "b": np.zeros(9)}), ["a", "b"], 10, name="val.parquet")
    X = np.random.default_rng(0).normal(size=(100, 2))
    with pytest.raises(ValueError, match="fewer than num_bins = 50"):
        validate(X, X[:20], attack_edges(X, 50), resamples=5)


def _per_dataset(fail_clean, fail_adv, tested=30, runs=3):
    rows = []
    for r in range(runs):
        row = {"run": r, "attack": "attack"}
        for test in ("chi2", "ks", "pull"):
            row |= {f"{test}_failing_clean": fail_clean, f"{test}_tested_clean": tested,
                    f"{test}_failing_adversarial": fail_adv, f"{test}_tested_adversarial": tested}
        rows.append(row)
    return pd.DataFrame(rows)


def test_the_verdict_says_whether_adversaries_fail_more_often_than_clean_simulation():
    from conservattack.studies.validation import validation_verdict

    same = validation_verdict(_per_dataset(2, 3), 0.05)
    assert "at about the clean rate" in same and "0.033 (3/90) vs clean 0.022 (2/90)" not in same
    assert "chi-square 0.100 (9/90) vs clean 0.067 (6/90)" in same and "3 runs" in same
    worse = validation_verdict(_per_dataset(2, 12), 0.05)
    assert "**more often** than the clean simulation does (chi-square, KS, correlation pulls)" in worse
    assert "no `attack_reference/chunks1` attack" in validation_verdict(_per_dataset(1, 1), 0.05,
                                                                         attack="attack_reference/chunks1")


def test_an_attack_that_moves_nothing_gets_the_clean_numbers_exactly():
    rng = np.random.default_rng(2)
    X, Y = _gaussians(rng, 800), _gaussians(rng, 900)
    table, summary = validate_pair(X, X.copy(), Y, attack_edges(X, 20), resamples=50, seed=4, features=list("abc"))
    for col in ("statistic", "p_value", "fails"):
        assert table[f"{col}_clean"].equals(table[f"{col}_adversarial"])
    assert summary["clean"] == summary["adversarial"]
