"""The restricted (control-region) attack and the best single cut (conservattack.studies.restricted)."""

import numpy as np
import pytest

from conservattack import AttackParams
from conservattack.attacks.inference import loss_gradient_sign, predict_proba
from conservattack.studies.restricted import best_single_cut, largest_moves, restricted_attack
from problems import correlated_unit_data, model_labels, small_model

GRID = dict(min_change=0.0005, step=0.0005, n_iterations=1, num_bins=20, alpha=4.0, beta=1.0,
            max_jsd_single_change=0.01, max_frob_single_change=0.01)


def test_best_single_cut_matches_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(20):
        X = np.round(rng.random((40, 3)), 1)  # ties between values
        y = rng.random(40) < 0.4
        cut = best_single_cut(X, y)
        best = -1.0
        for j in range(3):
            v = np.unique(X[:, j])
            for t in (v[1:] + v[:-1]) / 2:
                best = max(best, ((X[:, j] > t) == y).mean(), ((X[:, j] <= t) == y).mean())
        assert cut.accuracy == pytest.approx(best)
        assert (cut.signal_side(X) == y).mean() == pytest.approx(cut.accuracy)


def test_signal_region_takes_the_largest_grid_move_within_the_bounds():
    """Every feature of a not-yet-fooled event moves by the largest grid candidate that the
    attack's literal bound check keeps, including starting values where the division
    (room - min_change) / step rounds one step short."""
    rng = np.random.default_rng(0)
    X = np.round(rng.random((400, 3)), 4)  # multiples of 0.0001: many sit on the 0.0005 grid
    X[:, 0] = np.linspace(0.0, 1.0, 400)
    model = small_model(3, seed=1)
    y = model_labels(model, X)
    params = AttackParams(**GRID)
    lo, hi = np.zeros(3), np.ones(3)
    X_adv, fooled = largest_moves(model, X, y, params, lo, hi)
    s = loss_gradient_sign(model, X, y)
    expected = X.copy()
    for i in range(len(X)):
        for j in range(3):
            k, best = 0, X[i, j]
            while lo[j] <= X[i, j] + s[i, j] * (0.0005 + k * 0.0005) <= hi[j]:
                best = X[i, j] + s[i, j] * (0.0005 + k * 0.0005)
                k += 1
            expected[i, j] = best
    assert np.array_equal(X_adv, expected)
    assert np.array_equal(fooled, (predict_proba(model, X_adv) >= 0.5) != y)


def test_signal_region_jitters_the_grid_per_event_and_feature():
    """With randomize_step, each SR value takes the largest move of its own jittered grid
    (min_change and step scaled by one U(1 - f, 1 + f) factor per event and feature)."""
    X = correlated_unit_data(300, 3, seed=2)
    model = small_model(3, seed=2)
    y = model_labels(model, X)
    f = 0.5
    params = AttackParams(**{**GRID, "min_change": 0.01, "step": 0.03, "randomize_step": True,
                             "random_step_frac": f})
    lo, hi = np.zeros(3), np.ones(3)
    X_adv, _ = largest_moves(model, X, y, params, lo, hi)
    plain, _ = largest_moves(model, X, y, AttackParams(**{**GRID, "min_change": 0.01, "step": 0.03}), lo, hi)
    s = loss_gradient_sign(model, X, y)
    D = s * (X_adv - X)  # the move along the gradient sign
    room = np.where(s > 0, hi - X, X - lo)
    moved = X_adv != X
    assert (X_adv >= lo).all() and (X_adv <= hi).all() and (D[moved] > 0).all()
    assert not np.array_equal(X_adv, plain)  # the jitter acts
    # the draws of the documented order (the SR generator's (events, d) factors first): each value
    # moved by its own grid's largest move, min_change + k step, that stays within the bounds
    jitter = np.random.default_rng(params.seed + 1).uniform(1 - f, 1 + f, size=X.shape)
    mc, st = 0.01 * jitter, 0.03 * jitter
    k = np.rint((D - mc) / st)
    np.testing.assert_allclose(D[moved], (mc + k * st)[moved], atol=1e-9)
    assert (k[moved] >= 0).all() and (room[moved] - D[moved] < st[moved] + 1e-12).all()
    assert (room[~moved] < mc[~moved]).all()  # unmoved only where even min_change leaves the bounds


def test_restricted_attack_keeps_regions_apart():
    X = correlated_unit_data(300, 3, seed=5)
    model = small_model(3, seed=5)
    y = model_labels(model, X)
    cut = best_single_cut(X, y)
    control = cut.control_region(X)
    params = AttackParams(**{**GRID, "min_change": 0.01, "step": 0.02, "n_iterations": 2,
                             "max_jsd_single_change": 0.05, "max_frob_single_change": 0.02})
    res = restricted_attack(model, X, y, params, control, engine="cpu", progress=False)
    cr = X[control]
    assert (res.X_adv[control] >= cr.min(axis=0)).all() and (res.X_adv[control] <= cr.max(axis=0)).all()
    assert (res.X_adv[~control] != X[~control]).any(axis=1).all()  # every SR event moved
    assert len(res.history) == 2
    ratios = res.fooling_ratios()
    assert ratios["fooling_ratio_all"] == pytest.approx(res.fooled.mean())
    assert ratios["fooling_ratio_sr"] >= ratios["fooling_ratio_cr"]
