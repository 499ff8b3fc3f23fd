"""Invariants of the attack: bounds, mask, monotone fooling, reproducibility, running exactness."""

import numpy as np
import pytest

from conservattack import AttackParams, attack
from conservattack.attacks.state import AttackState
from conservattack.attacks.inference import predict_proba
from conservattack.attacks.metrics import jsd_per_feature
from conservattack.attacks.running_stats import histogram_counts, pearson_matrix

GRID = dict(min_change=0.01, step=0.02, n_iterations=3, num_bins=15, alpha=4.0, beta=1.0,
            max_jsd_single_change=0.05, max_frob_single_change=0.02)
RANDOM = dict(GRID, num_candidates=12, randomize_step=True, random_step_frac=0.3, seed=5)


@pytest.mark.parametrize("cfg", [GRID, RANDOM, dict(GRID, use_no_change=False)])
def test_bounds_mask_and_monotone_fooling(small_problem, cfg):
    model, X, y = small_problem
    mask = np.zeros(len(X), bool)
    mask[::5] = True
    X_in = X.copy()
    res = attack(model, X, y, AttackParams(**cfg), mask=mask, progress=False)
    assert np.array_equal(X, X_in), "the caller's array must not be modified"
    assert res.X_adv.shape == X.shape
    assert (res.X_adv >= X.min(0)).all() and (res.X_adv <= X.max(0)).all()
    assert np.array_equal(res.X_adv[mask], X[mask]), "masked events must not move"
    assert not res.fooled[mask].any()
    moved = (res.X_adv != X).any(axis=1)
    assert moved[~mask].sum() > 50, "the attack must actually move events"
    ratios = [h["fooling_ratio"] for h in res.history]
    assert ratios == sorted(ratios) and ratios[-1] > 0, "fooled never becomes un-fooled"
    # without optimize_already_fooled a fooled event is frozen, so it is still misclassified
    pred = (predict_proba(model, res.X_adv) >= 0.5).astype(int)
    assert (pred[res.fooled] != y[res.fooled]).all()
    assert res.fooling_ratio == pytest.approx(res.fooled[~mask].mean())
    h = res.history[-1]
    assert len(res.history) == cfg["n_iterations"] and len(h["jsd"]) == X.shape[1]
    assert set(h) >= {"fooling_ratio", "jsd", "jsd_mean", "relative_fn", "seconds", "visit_seconds", "model_seconds"}
    assert 0 < h["visit_seconds"] + h["model_seconds"] <= h["seconds"]
    assert h["relative_fn"] == pytest.approx(
        np.linalg.norm(pearson_matrix(res.X_adv) - pearson_matrix(X)) / np.linalg.norm(pearson_matrix(X)))
    # the history's JSD comes from the attack's recount; it is the from-scratch metric to the bit
    assert h["jsd"] == jsd_per_feature(X, res.X_adv, cfg["num_bins"]).tolist()


def test_same_seed_same_result_and_seed_matters(small_problem):
    model, X, y = small_problem
    a = attack(model, X, y, AttackParams(**RANDOM), progress=False)
    b = attack(model, X, y, AttackParams(**RANDOM), progress=False)
    c = attack(model, X, y, AttackParams(**dict(RANDOM, seed=6)), progress=False)
    assert np.array_equal(a.X_adv, b.X_adv) and np.array_equal(a.fooled, b.fooled)
    assert not np.array_equal(a.X_adv, c.X_adv)
    g1 = attack(model, X, y, AttackParams(**GRID), progress=False)
    g2 = attack(model, X, y, AttackParams(**GRID), progress=False)
    assert np.array_equal(g1.X_adv, g2.X_adv)


def test_running_statistics_stay_exact_through_an_iteration(small_problem):
    """After a full iteration of event moves (before the next resync) the running values equal scratch."""
    model, X, y = small_problem
    params = AttackParams(**GRID)
    state = AttackState(model, X.astype(float), y, np.zeros(len(X), bool), params)
    running = {}
    recount = state.hist.resync

    def keep_running_values(X_now):  # iterate() recounts the histograms at its end
        running.update(counts=state.hist.counts.copy(), term_sum=state.hist.term_sum.copy())
        recount(X_now)

    state.hist.resync = keep_running_values
    state.iterate(1, progress=False)
    assert running, "the iteration must recount its histograms"
    for j in range(X.shape[1]):
        np.testing.assert_array_equal(
            running["counts"][j], histogram_counts(state.X[:, j], state.lo[j], state.hi[j], params.num_bins))
    np.testing.assert_allclose(running["term_sum"], state.hist.term_sum, rtol=0, atol=1e-12)
    # the co-moments are re-synchronised at the start of an iteration: these are the running values
    np.testing.assert_allclose(state.pearson.corr(), pearson_matrix(state.X), rtol=0, atol=1e-12)


def test_no_admissible_candidate_means_no_move(small_problem):
    model, X, y = small_problem
    res = attack(model, X, y, AttackParams(**dict(GRID, max_frob_single_change=0.0)), progress=False)
    assert np.array_equal(res.X_adv, X)
    forced = attack(model, X, y, AttackParams(**dict(GRID, max_frob_single_change=0.0, use_no_change=False)),
                    progress=False)
    assert (forced.X_adv != X).any(axis=1).mean() > 0.9


def test_optimize_already_fooled_keeps_fooled_and_lowers_clean_cost(small_problem):
    model, X, y = small_problem
    cfg = dict(GRID, n_iterations=2)
    params = AttackParams(**dict(cfg, optimize_already_fooled=True, max_search_steps=5))
    state = AttackState(model, X.astype(float), y, np.zeros(len(X), bool), params)
    state.iterate(1, progress=False)
    fooled = np.flatnonzero(state.fooled)
    assert fooled.size > 5
    pulled = 0
    for i in fooled:
        before = state.X[i].copy()
        if not state.pull_back(i):
            continue
        pulled += 1
        after = state.X[i]
        assert (predict_proba(model, after[None, :]) >= 0.5).astype(int)[0] != y[i], "must stay fooled"
        x0 = state.X_clean[i]
        assert (np.abs(after - x0) <= np.abs(before - x0) + 1e-15).all(), "moves go toward the clean value"
    assert pulled > 0
    res = attack(model, X, y, params, progress=False)
    pred = (predict_proba(model, res.X_adv) >= 0.5).astype(int)
    assert (pred[res.fooled] != y[res.fooled]).all()


def test_params_from_config_dict(small_problem):
    model, X, y = small_problem
    a = attack(model, X, y, GRID, progress=False)
    b = attack(model, X, y, AttackParams(**GRID), progress=False)
    assert np.array_equal(a.X_adv, b.X_adv)
