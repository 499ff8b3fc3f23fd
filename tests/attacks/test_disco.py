"""Distance correlation: the matrix against the ``dcor`` package, the running statistics against
from-scratch recomputation after many moves, candidate Frobenius norms against brute force, and
the DisCo-constrained attack against a slow oracle that rebuilds dCor for every candidate."""


import dcor
import numpy as np
import pytest

from conservattack import AttackParams, ParameterError, attack
from conservattack.attacks.state import AttackState
from conservattack.attacks.disco import (DiscoAttack, RunningDistanceCorrelation, distance_correlation_matrix, distance_sums, relative_dcor_frobenius)
from conservattack.attacks.metrics import relative_frobenius_of_sets
from conservattack.attacks.running_stats import histogram_counts, js_distance
from problems import correlated_unit_data, model_labels, small_model

import oracle  # noqa: E402

METHODS = RunningDistanceCorrelation.METHODS


def dcor_pairwise(X):
    d = X.shape[1]
    return np.array([[dcor.distance_correlation(X[:, j], X[:, k]) for k in range(d)] for j in range(d)])


def with_ties(X, rng):
    """Copy some values of other events (ties) and put some on the bounds."""
    X = X.copy()
    n, d = X.shape
    for j in range(d):
        src = rng.choice(n, n // 10, replace=False)
        X[rng.choice(n, n // 10, replace=False), j] = X[src, j]
    return X


@pytest.mark.parametrize("n,d,seed", [(30, 2, 0), (200, 4, 1), (500, 6, 2)])
def test_matrix_equals_dcor_package(n, d, seed):
    rng = np.random.default_rng(seed)
    X = with_ties(correlated_unit_data(n, d, seed), rng)
    X[:, 0] = X[:, 1] ** 2 + 0.05 * X[:, 0]  # a non-linear dependence Pearson misses
    C = distance_correlation_matrix(X)
    np.testing.assert_allclose(C, dcor_pairwise(X), rtol=0, atol=1e-12)
    assert np.array_equal(np.diag(C), np.ones(d)) and np.array_equal(C, C.T)
    # block size does not matter
    np.testing.assert_allclose(distance_correlation_matrix(X, block_elements=7), C, rtol=0, atol=1e-13)


def test_constant_feature_has_zero_distance_correlation():
    X = correlated_unit_data(50, 3, 0)
    X[:, 1] = 0.25
    C = distance_correlation_matrix(X)
    assert C[1].tolist() == [0.0, 0.0, 0.0] and C[:, 1].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(C[0, 2], dcor.distance_correlation(X[:, 0], X[:, 2]), atol=1e-13)


def random_moves(X, rd, rng, n_moves):
    """Move random single values (uniform, onto other events' values, onto the bounds), and every
    fifth time several features of one event together (``move_event``)."""
    n, d = X.shape
    lo, hi = X.min(0), X.max(0)
    for t in range(n_moves):
        i, j = int(rng.integers(n)), int(rng.integers(d))
        if t % 5 == 4:
            x = X[i].copy()
            feats = rng.choice(d, size=rng.integers(1, d + 1), replace=False)
            x[feats] = rng.uniform(lo[feats], hi[feats])
            x[feats[0]] = X[rng.integers(n), feats[0]]
            rd.move_event(i, x)
            X[i] = x
            continue
        kind = t % 4
        v = (rng.uniform(lo[j], hi[j]) if kind < 2 else X[rng.integers(n), j] if kind == 2
             else (lo[j] if rng.random() < 0.5 else hi[j]))
        rd.move(i, j, float(v))
        X[i, j] = v


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n,d,seed", [(40, 2, 3), (300, 5, 4)])
def test_running_statistics_equal_scratch_after_many_moves(method, n, d, seed):
    rng = np.random.default_rng(seed)
    X = with_ties(correlated_unit_data(n, d, seed), rng)
    rd = RunningDistanceCorrelation(X, method=method)
    random_moves(X, rd, rng, 400)
    r, R, T, U = distance_sums(X)
    np.testing.assert_allclose(rd.r, r, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(rd.R, R, rtol=1e-12)
    np.testing.assert_allclose(rd.T, T, rtol=1e-12)
    np.testing.assert_allclose(rd.U, U, rtol=1e-12)
    np.testing.assert_allclose(rd.corr(), dcor_pairwise(X), rtol=0, atol=1e-10)
    assert np.array_equal(rd.X, X)
    assert np.array_equal(rd.sorted_values, np.sort(X, axis=0).T)
    assert np.array_equal(np.take_along_axis(X.T, rd.order, axis=1), rd.sorted_values)
    rd.resync(X)
    np.testing.assert_allclose(rd.corr(), distance_correlation_matrix(X), rtol=0, atol=1e-15)


def brute_force_fn(X, i, j, delta):
    C = distance_correlation_matrix(X)
    Y = X.copy()
    Y[i, j] += delta
    return float(np.linalg.norm(distance_correlation_matrix(Y) - C))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n,d,seed", [(25, 2, 5), (150, 4, 6)])
def test_candidate_frobenius_equals_brute_force(method, n, d, seed):
    rng = np.random.default_rng(seed)
    X = with_ties(correlated_unit_data(n, d, seed), rng)
    rd = RunningDistanceCorrelation(X, method=method)
    random_moves(X, rd, rng, 100)  # candidates are evaluated against the running statistics
    lo, hi = X.min(0), X.max(0)
    for i in rng.choice(n, 4, replace=False):
        x = X[i].copy()
        K = 9
        D = rng.uniform(-0.4, 0.4, size=(d, K))
        D[:, 0] = 0.0  # no move
        D[:, 1] = X[rng.integers(n, size=d), np.arange(d)] - x  # onto another event's value
        D[:, 2] = hi - x  # to the bounds
        D[:, 3] = lo - x
        D = np.clip(x[:, None] + D, lo[:, None], hi[:, None]) - x[:, None]
        fn = rd.candidate_frobenius(D, *rd.event_terms(x))
        bf = np.array([[brute_force_fn(X, i, j, D[j, k]) for k in range(K)] for j in range(d)])
        np.testing.assert_allclose(fn, bf, rtol=0, atol=1e-10)
        assert (fn[:, 0] == 0).all()


def test_walk_equals_direct_on_a_larger_set():
    rng = np.random.default_rng(7)
    X = correlated_unit_data(1500, 8, 7)
    walk, direct = RunningDistanceCorrelation(X), RunningDistanceCorrelation(X, method="direct")
    for i in rng.choice(1500, 5, replace=False):
        s = np.where(rng.random(8) < 0.5, -1.0, 1.0)
        D = s[:, None] * (0.015 + 0.06 * np.arange(17))[None, :]
        D = np.clip(X[i][:, None] + D, 0.0, 1.0) - X[i][:, None]
        a = walk.candidate_frobenius(D, *walk.event_terms(X[i]))
        b = direct.candidate_frobenius(D, *direct.event_terms(X[i]))
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
        assert np.isfinite(a).all() and (a > 0).any()


def test_move_that_would_make_a_feature_constant_is_infinite():
    X = np.column_stack([np.linspace(0, 1, 12), np.zeros(12)])
    X[3, 1] = 1.0
    rd = RunningDistanceCorrelation(X)
    D = np.array([[0.1, 0.2], [-1.0, -0.5]])
    fn = rd.candidate_frobenius(D, *rd.event_terms(X[3]))
    assert np.isinf(fn[1, 0]) and np.isfinite(fn[1, 1]) and np.isfinite(fn[0]).all()


# --------------------------------------------------------------------------------------------
# The DisCo-constrained attack
# --------------------------------------------------------------------------------------------
DISCO_HIGGS = dict(min_change=0.015, step=0.06, n_iterations=3, num_bins=30, alpha=4.0, beta=1.0,
                   max_jsd_single_change=0.02, max_frob_single_change=0.003, use_disco=True)
DONUT = dict(min_change=0.001, num_candidates=150, n_iterations=3, num_bins=70, alpha=6.0, beta=1.0,
             max_jsd_single_change=0.005, max_frob_single_change=0.05, use_disco=True)


def donut_like(n, seed):
    rng = np.random.default_rng(seed)
    r, phi = rng.normal(1.8, 0.5, n), rng.uniform(0, 2 * np.pi, n)
    X = np.column_stack([r * np.cos(phi), r * np.sin(phi)])
    return (X - X.min(0)) / (X.max(0) - X.min(0))


class CheckedDisco(DiscoAttack):
    """Checks every applied move against from-scratch statistics of the current set."""

    checked = 0

    def apply(self, i, x_new):
        X, p = self.X, self.p
        C = distance_correlation_matrix(X)
        for j in np.flatnonzero(x_new != X[i]):
            Y = X.copy()
            Y[i, j] = x_new[j]
            fn = np.linalg.norm(distance_correlation_matrix(Y) - C)
            lo, hi = self.lo[j], self.hi[j]
            P = histogram_counts(self.X_clean[:, j], lo, hi, p.num_bins) / self.n
            Q = histogram_counts(Y[:, j], lo, hi, p.num_bins) / self.n
            assert fn <= p.max_frob_single_change + 1e-12
            assert js_distance(P, Q) <= p.max_jsd_single_change + 1e-12
            CheckedDisco.checked += 1
        return super().apply(i, x_new)


@pytest.mark.parametrize("case", ["donut", "higgs"])
def test_disco_attack_respects_limits_and_stays_exact(case):
    if case == "donut":
        X, params, d = donut_like(300, 0), AttackParams(**DONUT), 2
    else:
        X, params, d = correlated_unit_data(300, 4, 8), AttackParams(**DISCO_HIGGS), 4
    model = small_model(d, seed=3)
    y = model_labels(model, X)
    CheckedDisco.checked = 0
    state = CheckedDisco(model, X.copy(), y, np.zeros(len(X), bool), params)
    for it in range(1, params.n_iterations + 1):
        # the base iteration: no from-scratch recomputation at its end
        h = AttackState.iterate(state, it, progress=False)
        r, R, T, U = distance_sums(state.X)
        np.testing.assert_allclose(state.pearson.T, T, rtol=1e-12)
        np.testing.assert_allclose(state.pearson.U, U, rtol=1e-12)
        np.testing.assert_allclose(state.pearson.corr(), distance_correlation_matrix(state.X), rtol=0, atol=1e-12)
        assert np.array_equal(state.pearson.X, state.X)
    assert CheckedDisco.checked > 100 and h["events_moved"] > 30
    assert (state.X >= X.min(0)).all() and (state.X <= X.max(0)).all()


def test_attack_entry_point_reports_dcor_metric():
    X = correlated_unit_data(200, 3, 9)
    model = small_model(3, seed=9)
    y = model_labels(model, X)
    res = attack(model, X, y, dict(DISCO_HIGGS, n_iterations=2), progress=False)
    assert (res.X_adv != X).any(axis=1).mean() > 0.3
    h = res.history[-1]
    assert h["relative_fn"] == pytest.approx(relative_dcor_frobenius(X, res.X_adv), abs=1e-12)
    assert h["relative_fn_pearson"] == pytest.approx(relative_frobenius_of_sets(X, res.X_adv), abs=1e-12)
    assert h["relative_fn"] < h["relative_fn_pearson"] or h["relative_fn"] < 0.05
    # the Pearson attack on the same data is a different attack
    pearson = attack(model, X, y, dict(DISCO_HIGGS, n_iterations=2, use_disco=False), progress=False)
    assert not np.array_equal(pearson.X_adv, res.X_adv)


@pytest.mark.parametrize("engine", ["cpu", "cuda"])
def test_compiled_engines_refuse_disco(engine):
    X = correlated_unit_data(50, 2, 0)
    model = small_model(2)
    with pytest.raises(ParameterError, match="use_disco"):
        attack(model, X, model_labels(model, X), DISCO_HIGGS, progress=False, engine=engine)


def test_naive_engine_agrees():
    X = correlated_unit_data(80, 3, 10)
    model = small_model(3, seed=10)
    y = model_labels(model, X)
    p = dict(DISCO_HIGGS, n_iterations=2)
    a = attack(model, X, y, p, progress=False, engine="numpy")
    b = attack(model, X, y, p, progress=False, engine="naive")
    np.testing.assert_allclose(b.X_adv, a.X_adv, rtol=0, atol=1e-12)
    assert np.array_equal(a.fooled, b.fooled)


def test_clean_cost_equals_brute_force():
    X = correlated_unit_data(120, 3, 11)
    model = small_model(3, seed=11)
    y = model_labels(model, X)
    state = DiscoAttack(model, X.copy(), y, np.zeros(120, bool), AttackParams(**DISCO_HIGGS))
    AttackState.iterate(state, 1, progress=False)
    i = int(np.flatnonzero((state.X != X).any(1))[0])
    j = int(np.flatnonzero(state.X[i] != X[i])[0])
    values = np.linspace(state.X[i, j], X[i, j], 5)
    cost = state._clean_cost(state.X[i].copy(), j, values)
    C_clean = distance_correlation_matrix(X)
    for v, c in zip(values, cost):
        Y = state.X.copy()
        Y[i, j] = v
        fn = np.linalg.norm(distance_correlation_matrix(Y) - C_clean)
        P = histogram_counts(X[:, j], state.lo[j], state.hi[j], 30) / 120
        Q = histogram_counts(Y[:, j], state.lo[j], state.hi[j], 30) / 120
        assert c == pytest.approx(4.0 * js_distance(P, Q) + fn, abs=1e-10)


def test_optimize_already_fooled_pulls_back_with_disco(monkeypatch):
    X = correlated_unit_data(150, 3, 15)
    model = small_model(3, seed=15, gain=4.0)
    y = model_labels(model, X)
    pulled = []
    pull_back = DiscoAttack.pull_back
    monkeypatch.setattr(DiscoAttack, "pull_back", lambda self, i: pulled.append(pull_back(self, i)) or pulled[-1])
    params = dict(DISCO_HIGGS, max_jsd_single_change=0.1, max_frob_single_change=0.02, optimize_already_fooled=True)
    res = attack(model, X, y, params, progress=False)
    assert res.fooled.sum() > 20 and sum(pulled) > 10
    assert (model_labels(model, res.X_adv) != y)[res.fooled].all()  # pulled-back events stay fooled
    assert res.history[-1]["relative_fn"] == pytest.approx(relative_dcor_frobenius(X, res.X_adv), abs=1e-12)


# --------------------------------------------------------------------------------------------
# Oracle: the literal attack of tests/helpers/oracle.py with dCor rebuilt from scratch for every candidate
# --------------------------------------------------------------------------------------------
def disco_candidate_table(Xcur, i, j, deltas, P, lo, hi, num_bins, alpha, beta, max_jsd, max_frob):
    from scipy.spatial.distance import jensenshannon

    n = Xcur.shape[0]
    C_cur = dcor_pairwise(Xcur)
    out = []
    for delta in deltas:
        Xmod = Xcur.copy()
        Xmod[i, j] = Xcur[i, j] + delta
        Q = np.histogram(Xmod[:, j], bins=num_bins, range=(lo[j], hi[j]))[0] / n
        jsd = float(jensenshannon(P[j], Q, base=2))
        C_mod = dcor_pairwise(Xmod)
        fn = float(np.linalg.norm(C_mod - C_cur))
        out.append(dict(delta=float(delta), jsd=jsd, fn=fn, cost=alpha * jsd + beta * fn,
                        admissible=(jsd <= max_jsd) and (fn <= max_frob)))
    return out


@pytest.mark.parametrize("case", ["grid", "random"])
def test_decisions_equal_slow_oracle(case, monkeypatch):
    X = correlated_unit_data(60, 3, 13) if case == "grid" else donut_like(60, 13)
    d = X.shape[1]
    model = small_model(d, seed=13, gain=4.0)
    y = model_labels(model, X)
    if case == "grid":
        params = dict(DISCO_HIGGS, min_change=0.02, step=0.08, max_jsd_single_change=0.2,
                      max_frob_single_change=0.02, num_bins=10, n_iterations=2)
    else:
        params = dict(DONUT, num_candidates=6, num_bins=10, max_jsd_single_change=0.2,
                      max_frob_single_change=0.02, n_iterations=2, seed=4)
    monkeypatch.setattr(oracle, "candidate_table", disco_candidate_table)
    o = AttackParams(**params).to_dict()
    Xo, fo = oracle.oracle_attack(model, X, y, o)
    res = attack(model, X, y, params, progress=False)
    assert (Xo != X).any(axis=1).sum() >= 15, "the comparison must not be vacuous"
    np.testing.assert_allclose(res.X_adv, Xo, rtol=0, atol=1e-12)
    assert np.array_equal(res.fooled, fo)

