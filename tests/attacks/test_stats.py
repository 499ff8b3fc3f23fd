"""Running statistics against from-scratch recomputation; per-candidate costs against brute force."""

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from conservattack.attacks.running_stats import (RunningHistograms, RunningPearson, bin_edges, bin_index, histogram_counts, js_distance, pearson_matrix)
from problems import correlated_unit_data


def test_bin_index_matches_numpy_histogram_including_edges():
    rng = np.random.default_rng(0)
    for lo, hi, nb in ((0.0, 1.0, 200), (-3.7, 12.1, 70), (0.1, 0.3, 7)):
        edges = bin_edges(lo, hi, nb)
        x = np.concatenate([rng.uniform(lo, hi, 5000), edges, [lo, hi], np.nextafter(edges[1:-1], -np.inf)])
        idx = bin_index(x, lo, hi, nb)
        assert idx.min() >= 0 and idx.max() <= nb - 1
        assert (idx[x == hi] == nb - 1).all()
        np.testing.assert_array_equal(np.bincount(idx, minlength=nb), np.histogram(x, nb, range=(lo, hi))[0])
        for v, i in zip(x, idx):  # bin by bin, not only in total
            assert np.histogram([v], nb, range=(lo, hi))[0][i] == 1


def test_histogram_counts_of_the_running_histograms_are_numpys_including_edges():
    """RunningHistograms counts with a compiled loop (stats.bin_counts); it must put every value
    where bin_index (numpy.histogram) does: on edges, one ulp below them, on lo and hi."""
    rng = np.random.default_rng(3)
    ranges = ((0.0, 1.0, 200), (-3.7, 12.1, 70), (0.1, 0.3, 7), (2.0, 2.0, 5))  # the last: a constant feature
    cols = []
    for lo, hi, nb in ranges:
        edges = bin_edges(lo, hi, nb)
        x = np.concatenate([rng.uniform(lo, hi, 3000), np.clip(edges, lo, hi), [lo, hi],
                            np.clip(np.nextafter(edges[1:-1], -np.inf), lo, hi)])
        cols.append(rng.permutation(np.resize(x, 3300)))
    X = np.stack(cols, axis=1)
    hist = RunningHistograms(X, X.min(0), X.max(0), 7)
    for j in range(X.shape[1]):
        np.testing.assert_array_equal(hist.counts[j], histogram_counts(X[:, j], X[:, j].min(), X[:, j].max(), 7))
    for (lo, hi, nb), x in zip(ranges, cols):
        h1 = RunningHistograms(x[:, None], [lo], [hi], nb)
        np.testing.assert_array_equal(h1.counts[0], histogram_counts(x, lo, hi, nb))
        np.testing.assert_array_equal(h1.counts[0], np.histogram(x, nb, range=(lo, hi) if lo < hi else None)[0])
    X_out = X.copy()
    X_out[5, 2] = 0.31  # above feature 2's range
    with pytest.raises(ValueError, match=r"outside the histogram range in feature\(s\) \[2\]"):
        hist.resync(X_out)
    X_out[5, 2] = np.nan
    with pytest.raises(ValueError, match=r"feature\(s\) \[2\]"):
        hist.resync(X_out)


def test_js_distance_is_scipy_base_2():
    rng = np.random.default_rng(1)
    for _ in range(20):
        p = rng.random(30) * (rng.random(30) > 0.3)
        q = rng.random(30) * (rng.random(30) > 0.3)
        p, q = p / p.sum(), q / q.sum()
        assert js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-14)
    assert js_distance(p, p) == 0.0


def random_joint_moves(X, rng, hist, pearson, n_moves):
    """Apply random joint moves to X through the running statistics (as the attack does)."""
    lo, hi = X.min(0), X.max(0)
    d = X.shape[1]
    for _ in range(n_moves):
        i = rng.integers(len(X))
        feats = rng.choice(d, size=rng.integers(1, d + 1), replace=False)
        new = X[i].copy()
        new[feats] = rng.uniform(lo[feats], hi[feats])
        if rng.random() < 0.1:  # values exactly on the bounds
            new[feats[0]] = hi[feats[0]] if rng.random() < 0.5 else lo[feats[0]]
        changed = np.flatnonzero(new != X[i])
        hist.move(changed, hist.bins(X[i][:, None])[changed, 0], hist.bins(new[:, None])[changed, 0])
        row = X[i].copy()
        for j in changed:
            pearson.move(row, j, new[j])
        assert np.array_equal(row, new)
        X[i] = row


@pytest.mark.parametrize("n,d,bins", [(50, 3, 10), (400, 6, 40), (2000, 30, 200)])
def test_running_statistics_equal_scratch_after_many_moves(n, d, bins):
    rng = np.random.default_rng(n)
    X0 = correlated_unit_data(n, d, seed=n)
    X = X0.copy()
    lo, hi = X0.min(0), X0.max(0)
    hist, pearson = RunningHistograms(X, lo, hi, bins), RunningPearson(X)
    random_joint_moves(X, rng, hist, pearson, n_moves=3000)
    for j in range(d):
        np.testing.assert_array_equal(hist.counts[j], histogram_counts(X[:, j], lo[j], hi[j], bins))
        p = histogram_counts(X0[:, j], lo[j], hi[j], bins) / n
        q = histogram_counts(X[:, j], lo[j], hi[j], bins) / n
        assert hist.jsd()[j] == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    np.testing.assert_allclose(pearson.mu, X.mean(0), rtol=0, atol=1e-13)
    np.testing.assert_allclose(pearson.S, (X - X.mean(0)).T @ (X - X.mean(0)), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(pearson.corr(), np.corrcoef(X, rowvar=False), rtol=0, atol=1e-12)
    # resync gives the scratch values exactly
    pearson.resync(X)
    np.testing.assert_allclose(pearson.corr(), pearson_matrix(X), rtol=0, atol=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_candidate_jsd_and_frobenius_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, d, bins = 120, 5, 12
    X = correlated_unit_data(n, d, seed=seed + 10)
    lo, hi = X.min(0), X.max(0)
    clean = RunningHistograms(X, lo, hi, bins)
    P = clean.P.copy()
    # a "current" state different from clean
    hist, pearson = RunningHistograms(X, lo, hi, bins), RunningPearson(X)
    random_joint_moves(X, rng, hist, pearson, n_moves=200)
    C_cur = np.corrcoef(X, rowvar=False)
    for _ in range(10):
        i = rng.integers(n)
        x = X[i].copy()
        cand = rng.uniform(lo[:, None], hi[:, None], size=(d, 15))
        cand[:, 0] = x  # the no-move candidate
        jsd = hist.candidate_jsd(hist.bins(x[:, None])[:, 0], hist.bins(cand))
        fn = pearson.candidate_frobenius(cand - x[:, None], *pearson.event_terms(x))
        for j in range(d):
            for k in range(cand.shape[1]):
                Xm = X.copy()
                Xm[i, j] = cand[j, k]
                q = np.histogram(Xm[:, j], bins, range=(lo[j], hi[j]))[0] / n
                assert jsd[j, k] == pytest.approx(jensenshannon(P[j], q, base=2), abs=1e-12)
                brute = np.linalg.norm(np.corrcoef(Xm, rowvar=False) - C_cur)
                assert fn[j, k] == pytest.approx(brute, rel=1e-9, abs=1e-13)
        assert (fn[:, 0] == 0).all()


def test_frobenius_of_tiny_moves_has_no_cancellation():
    """Moves of 1e-9 give norms that scale linearly (the closed form avoids a difference of large terms)."""
    X = correlated_unit_data(1000, 8, seed=3)
    pearson = RunningPearson(X)
    x = X[17].copy()
    D = np.array([[1e-9, 2e-9, 4e-9]] * 8)
    fn = pearson.candidate_frobenius(D, *pearson.event_terms(x))
    np.testing.assert_allclose(fn[:, 1] / fn[:, 0], 2.0, rtol=1e-6)
    np.testing.assert_allclose(fn[:, 2] / fn[:, 0], 4.0, rtol=1e-6)
