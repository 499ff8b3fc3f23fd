"""Detector statistics (studies 5-7) on small cases worked out by hand."""

import math
from decimal import Decimal, localcontext

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm, poisson

from conservattack.studies.detection import (acceptance_curve, binomial_consistency, class_balance_weights, corrected_fooling_ratio, operating_point, detector_efficiency, detector_training_set, poisson_log_tail, repeated_misclassification)
from conservattack.studies.verdict import verdict


# --------------------------------------------------------------------------------------------
# Study 5
# --------------------------------------------------------------------------------------------
def test_corrected_fooling_ratio_by_hand():
    fooled = [True, True, False, True]
    score = [0.9, 0.2, 0.8, 0.5]
    # t = 0.5: passes = [T, F, T, T] (0.5 >= 0.5 passes); fooled & passes = [T, F, F, T] -> 2/4
    assert corrected_fooling_ratio(fooled, score) == 0.5
    # t = 0.6: passes = [T, F, T, F]; fooled & passes = [T, F, F, F] -> 1/4
    assert corrected_fooling_ratio(fooled, score, threshold=0.6) == 0.25
    assert corrected_fooling_ratio(np.array([1, 0]), [0.7, 0.7]) == 0.5  # integer 0/1 flags
    assert math.isnan(corrected_fooling_ratio([], []))


def test_operating_point_by_hand():
    fooled = [True, True, False, True]
    score_adv = [0.9, 0.2, 0.8, 0.5]
    score_clean = [0.7, 0.4, 0.55]
    # t = 0.6: fooled and passing [T, F, F, F] -> 1/4; fooling adversaries flagged (< 0.6): 0.2, 0.5
    # -> 2/3 (the non-fooling 0.8 does not count); clean accepted (>= 0.6): 0.7 -> 1/3
    point = operating_point(fooled, score_adv, score_clean, threshold=0.6)
    assert point == pytest.approx({"corrected_fooling_ratio": 0.25, "detector_efficiency_adversarial": 2 / 3,
                                   "detector_efficiency_clean": 1 / 3})
    with pytest.raises(ValueError, match="lengths 4 and 3"):
        operating_point(fooled, score_adv[:3], score_clean)


def test_corrected_fooling_ratio_validation():
    with pytest.raises(ValueError, match="lengths 2 and 3"):
        corrected_fooling_ratio([True, False], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="fooled must be boolean"):
        corrected_fooling_ratio([0.5, 1.0], [0.1, 0.2])
    with pytest.raises(ValueError, match="detector_score must be finite"):
        corrected_fooling_ratio([True], [np.nan])
    with pytest.raises(ValueError, match="threshold must be a number"):
        corrected_fooling_ratio([True], [0.3], threshold="high")


def test_detector_efficiency_by_hand():
    # adversaries flagged when score < 0.5: 0.1, 0.4, 0.2 -> 3/5; clean accepted when >= 0.5:
    # 0.9, 0.5, 0.8 -> 3/4
    eff = detector_efficiency([0.1, 0.4, 0.6, 0.7, 0.2], [0.9, 0.5, 0.3, 0.8])
    assert eff == {"detector_efficiency_adversarial": 0.6, "detector_efficiency_clean": 0.75}
    assert math.isnan(detector_efficiency([], [0.9])["detector_efficiency_adversarial"])


def test_class_balance_weights_by_hand():
    # N = 4, three of class 1 -> 4 / (2 * 3) = 2/3 each; one of class 0 -> 4 / (2 * 1) = 2
    w = class_balance_weights([1, 1, 1, 0])
    np.testing.assert_allclose(w, [2 / 3, 2 / 3, 2 / 3, 2.0])
    y = np.random.default_rng(0).random(101) < 0.2
    w = class_balance_weights(y)
    assert w[y].sum() == pytest.approx(w[~y].sum()) == pytest.approx(101 / 2)
    assert w.mean() == pytest.approx(1.0)


def test_detector_training_set_labels_clean_1_and_fooled_adversaries_0():
    clean, adv = np.zeros((3, 2)), np.ones((4, 2))
    X, y, w = detector_training_set(clean, adv, [True, False, True, False])
    assert X.shape == (5, 2) and (X[3:] == 1).all() and y.tolist() == [1, 1, 1, 0, 0]
    np.testing.assert_allclose(w, class_balance_weights(y))
    with pytest.raises(ValueError, match=r"no fooled adversary to train the detector on in adv_val.parquet: the "
                                         r"attack fooled none of its 4 attacked event\(s\).*give the study more events"):
        detector_training_set(clean, adv, [False] * 4, "adv_val.parquet")


def test_class_balance_weights_needs_both_classes():
    with pytest.raises(ValueError, match="both classes.*0 of class 0 and 3 of class 1"):
        class_balance_weights([1, 1, 1])
    with pytest.raises(ValueError, match="y must be boolean"):
        class_balance_weights([0, 1, 2])
    with pytest.raises(ValueError, match="y must be 1-D"):
        class_balance_weights([[0, 1]])


# --------------------------------------------------------------------------------------------
# Study 6
# --------------------------------------------------------------------------------------------
def test_repeated_misclassification_no_excess_by_hand():
    flags = np.array([[True, True, False, False],
                      [True, False, False, False]])
    df = repeated_misclassification(flags)
    # flagged in [2, 1, 0, 0] runs -> O = [2, 1, 1]; p = 3 flags / 8 = 0.375
    assert df.attrs["p"] == 0.375 and df.attrs["n_runs"] == 2 and df.attrs["n_events"] == 4
    assert df["k"].tolist() == [0, 1, 2]
    assert df["observed"].tolist() == [2, 1, 1]
    # E = 4 * [(1-p)^2, 2p(1-p), p^2] = 4 * [0.390625, 0.46875, 0.140625] = [1.5625, 1.875, 0.5625]
    np.testing.assert_allclose(df["expected"], [1.5625, 1.875, 0.5625])
    # k=0: P(X >= 2 | 1.5625) = 1 - e^-1.5625 (1 + 1.5625) = 0.46287
    # k=1: P(X >= 1 | 1.875)  = 1 - e^-1.875 = 0.84665
    # k=2: P(X >= 1 | 0.5625) = 1 - e^-0.5625 = 0.43022
    expected_p = [1 - math.exp(-1.5625) * 2.5625, 1 - math.exp(-1.875), 1 - math.exp(-0.5625)]
    np.testing.assert_allclose(df["p_value"], expected_p, rtol=1e-12)
    np.testing.assert_allclose(df["p_value"], [0.46287, 0.84665, 0.43022], atol=1e-5)
    assert not df["significant"].any()


def test_repeated_misclassification_excess_by_hand():
    # N = 20; both runs flag the same 4 events -> O = [16, 0, 4]; p = 8 / 40 = 0.2
    flags = np.zeros((2, 20), dtype=bool)
    flags[:, :4] = True
    df = repeated_misclassification(flags)
    assert df.attrs["p"] == 0.2
    assert df["observed"].tolist() == [16, 0, 4]
    # E = 20 * [0.64, 0.32, 0.04] = [12.8, 6.4, 0.8]
    np.testing.assert_allclose(df["expected"], [12.8, 6.4, 0.8])
    # k=1: O = 0 -> P(X >= 0) = 1
    # k=2: P(X >= 4 | 0.8) = 1 - e^-0.8 (1 + 0.8 + 0.32 + 0.085333) = 1 - 0.449329 * 2.205333 = 0.00908
    assert df["p_value"][1] == 1.0
    assert df["p_value"][2] == pytest.approx(1 - math.exp(-0.8) * (1 + 0.8 + 0.8**2 / 2 + 0.8**3 / 6), rel=1e-10)
    assert df["p_value"][2] == pytest.approx(0.00908, abs=1e-5)
    assert df["significant"].tolist() == [False, False, True]
    # Z = Phi^-1(1 - p) for the excess; 0 where there is none (k=0: p 0.18, O 16 vs E 12.8, is an
    # excess too, a mild one)
    assert df["z_value"][2] == pytest.approx(norm.isf(df["p_value"][2]), rel=1e-10)
    assert df["z_value"][2] == pytest.approx(2.363, abs=1e-3)
    assert df["z_value"][0] == pytest.approx(norm.isf(df["p_value"][0]), rel=1e-10) and df["z_value"][1] == 0.0
    np.testing.assert_allclose(df["log10_p_value"], np.log10(df["p_value"]), rtol=1e-12)
    # with alpha = 0.005 the k=2 excess is no longer significant
    assert not repeated_misclassification(flags, alpha=0.005)["significant"].any()


def test_repeated_misclassification_never_flagged():
    # p = 0: E = [5, 0, 0, 0], O = [5, 0, 0, 0]
    df = repeated_misclassification(np.zeros((3, 5), dtype=bool))
    assert df["observed"].tolist() == [5, 0, 0, 0]
    np.testing.assert_allclose(df["expected"], [5, 0, 0, 0])
    # k=0: P(X >= 5 | 5) = 1 - e^-5 (1 + 5 + 12.5 + 20.833 + 26.042) = 1 - 0.0067379 * 65.375 = 0.55951
    # k>0: O = 0 -> P(X >= 0) = 1
    np.testing.assert_allclose(df["p_value"], [0.55951, 1.0, 1.0, 1.0], atol=1e-5)
    assert not df["significant"].any()


def _log_tail_by_direct_sum(a: int, x: int) -> float:
    """ln sum_{k >= a} e^-x x^k / k!, summed term by term in 60-digit decimals (no gamma
    function, no float64 underflow): an oracle independent of poisson_log_tail's series."""
    with localcontext() as ctx:
        ctx.prec = 60
        term = (Decimal(-x) + a * Decimal(x).ln() - Decimal(math.factorial(a)).ln()).exp()
        total, k = Decimal(0), a
        while term > total * Decimal("1e-40"):
            total += term
            k += 1
            term = term * x / k
        return float(total.ln())


def test_poisson_log_tail_beyond_float64_underflow():
    # where float64 holds the tail, exactly scipy's; deep excesses, where poisson.sf is 0 and
    # logsf -inf, against a 60-digit direct sum of the Poisson terms
    rng = np.random.default_rng(1)
    o, e = rng.integers(0, 400, 2000), rng.uniform(0, 500, 2000)
    ref = poisson.logsf(o - 1, e)
    shallow = ref > math.log(1e-250)
    np.testing.assert_allclose(poisson_log_tail(o, e)[shallow], ref[shallow], rtol=1e-12, atol=1e-14)
    for a, x in [(300, 3), (4000, 1500), (1000, 1), (400, 20)]:
        assert poisson.sf(a - 1, x) < 1e-280  # the series' domain
        assert poisson_log_tail(a, x) == pytest.approx(_log_tail_by_direct_sum(a, x), rel=1e-11)
    for a, x in [(250, 20), (60, 30)]:  # and the oracle agrees where gammainc does the work
        assert poisson_log_tail(a, x) == pytest.approx(_log_tail_by_direct_sum(a, x), rel=1e-11)
    # no excess possible (observed 0): probability 1; an event where none is expected: probability 0
    np.testing.assert_array_equal(poisson_log_tail([0, 3], [2.0, 0.0]), [0.0, -np.inf])
    with pytest.raises(ValueError, match="non-negative expectations without NaN"):
        poisson_log_tail([1], [np.nan])


def test_repeated_misclassification_deep_excess_keeps_its_significance():
    # 3,000 clean events, 10 runs; 300 of them flagged in every run, the rest never: p = 0.1 and
    # E_10 = 3000 * 1e-10, so P(X >= 300) is far below float64's range
    flags = np.zeros((10, 3000), dtype=bool)
    flags[:, :300] = True
    df = repeated_misclassification(flags)
    assert df["p_value"][10] == 0.0 and df["significant"][10]
    expected = df["expected"][10]
    assert df["log10_p_value"][10] == pytest.approx(
        (300 * math.log(expected) - expected - math.lgamma(301)) / math.log(10), rel=1e-9)
    # Z solves ln Phi(-Z) = ln p, with scipy's log-space Gaussian tail
    z = brentq(lambda t: norm.logsf(t) - df["log10_p_value"][10] * math.log(10), 1.0, 200.0, xtol=1e-12)
    assert df["z_value"][10] == pytest.approx(z, rel=1e-9) and z > 60


def test_repeated_misclassification_validation():
    with pytest.raises(ValueError, match="flags must be 2-D"):
        repeated_misclassification(np.zeros(4, dtype=bool))
    with pytest.raises(ValueError, match="at least one run and one event"):
        repeated_misclassification(np.zeros((2, 0), dtype=bool))
    with pytest.raises(ValueError, match="flags must be boolean.*float64"):
        repeated_misclassification(np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="flags must be boolean.*int"):
        repeated_misclassification(np.full((2, 3), 2))
    with pytest.raises(ValueError, match="alpha must be a fraction"):
        repeated_misclassification(np.zeros((2, 3), dtype=bool), alpha=1.5)


# --------------------------------------------------------------------------------------------
# Study 7
# --------------------------------------------------------------------------------------------
def test_acceptance_curve_two_runs_by_hand():
    runs = [np.array([0.1, 0.5, 0.9, 0.95]), np.array([0.3, 0.6, 0.7])]
    df = acceptance_curve(runs, [0.0, 0.5, 0.8, 1.0])
    # run 0: [4/4, 3/4, 2/4, 0]; run 1: [3/3, 2/3, 0, 0]
    np.testing.assert_allclose(df["threshold"], [0.0, 0.5, 0.8, 1.0])
    np.testing.assert_allclose(df["mean"], [1.0, (0.75 + 2 / 3) / 2, 0.25, 0.0])
    # ddof=1 over two values a, b: |a - b| / sqrt(2)
    np.testing.assert_allclose(df["std"], [0.0, (0.75 - 2 / 3) / math.sqrt(2), 0.5 / math.sqrt(2), 0.0], atol=1e-15)
    np.testing.assert_allclose(df["min"], [1.0, 2 / 3, 0.0, 0.0])
    np.testing.assert_allclose(df["max"], [1.0, 0.75, 0.5, 0.0])


def test_acceptance_curve_single_run_and_validation():
    df = acceptance_curve([[0.2, 0.8]], [0.5])
    assert df["mean"].tolist() == [0.5] and df["std"].tolist() == [0.0]
    with pytest.raises(ValueError, match="at least one run"):
        acceptance_curve([], [0.5])
    with pytest.raises(ValueError, match=r"runs \[1\] are empty"):
        acceptance_curve([[0.2], []], [0.5])
    with pytest.raises(ValueError, match=r"scores_by_run\[0\] must be 1-D"):
        acceptance_curve([[[0.2]]], [0.5])


def test_binomial_consistency_by_hand():
    # [[3, 0], [0, 3]]: margins 3/3; only the tables with 0 or 3 flagged real events are as
    # extreme, each with probability 1 / C(6, 3) = 1/20 -> two-sided p = 0.1: consistent
    r = binomial_consistency(3, 3, 0, 3)
    assert r["p_value"] == pytest.approx(0.1)
    assert r["consistent"] and r["rate_real"] == 1.0 and r["rate_sim"] == 0.0
    assert r["test"] == "fisher_exact"
    # [[4, 0], [0, 4]]: 2 / C(8, 4) = 2/70 = 0.0286 < 0.05: inconsistent
    r = binomial_consistency(4, 4, 0, 4)
    assert r["p_value"] == pytest.approx(2 / 70) and not r["consistent"]


def test_binomial_consistency_clear_cases():
    same = binomial_consistency(200, 1000, 2050, 10000)  # 0.200 vs 0.205
    assert same["consistent"] and same["p_value"] > 0.5
    assert same["rate_real"] == 0.2 and same["rate_sim"] == 0.205
    differ = binomial_consistency(300, 1000, 2000, 10000)  # 0.30 vs 0.20
    assert not differ["consistent"] and differ["p_value"] < 1e-10


def test_binomial_consistency_validation():
    with pytest.raises(ValueError, match="k_real must be at most n_real"):
        binomial_consistency(5, 4, 1, 4)
    with pytest.raises(ValueError, match="n_sim must be positive"):
        binomial_consistency(1, 4, 0, 0)
    with pytest.raises(ValueError, match="k_sim must be a non-negative integer"):
        binomial_consistency(1, 4, -1, 4)
    with pytest.raises(ValueError, match="n_real must be a non-negative integer"):
        binomial_consistency(1, 4.0, 1, 4)


# --------------------------------------------------------------------------------------------
# Verdict
# --------------------------------------------------------------------------------------------
def test_verdict_covered_and_consistent():
    c = binomial_consistency(200, 1000, 2050, 10000)
    text = verdict(0.062, 0.1, consistency=c)
    assert "0.062 is below the systematics budget 0.100" in text
    assert "real 0.200, simulated 0.205; consistent" in text and "fisher_exact" in text


def test_verdict_not_covered_and_inconsistent():
    c = binomial_consistency(300, 1000, 2000, 10000)
    text = verdict(0.15, 0.1, consistency=c)
    assert "0.150 is not below the systematics budget 0.100" in text
    assert "**inconsistent**" in text


def test_verdict_without_test_and_validation():
    text = verdict(0.05, 0.1, flag_rate_real=0.2, flag_rate_sim=0.21)
    assert "real 0.200, simulated 0.210 (no consistency test given)" in text
    assert "flagged" not in verdict(0.05, 0.1)
    assert "undefined" in verdict(float("nan"), 0.1)
    with pytest.raises(ValueError, match="systematics_budget must be a fraction"):
        verdict(0.05, float("nan"))
    with pytest.raises(ValueError, match="corrected_fr must be a fraction"):
        verdict(1.2, 0.1)
