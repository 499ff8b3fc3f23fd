"""The calibrated constraints (``constraints: calibrated``, docs/method.md section 2.12): budgets
against a direct bootstrap, no admitted move ever breaking a budget, the compiled engine making the
numpy reference's decisions, and the parameters' errors."""

from __future__ import annotations

import numpy as np
import pytest

from conservattack.attacks import state as state_module
from conservattack.attacks.api import attack
from conservattack.attacks import disco as disco_module
from conservattack.attacks import distance_stats
from conservattack.attacks.calibration import SEED_STREAM, calibrate
from conservattack.attacks.metrics import jsd_per_feature
from conservattack.attacks.params import AttackParams, ParameterError
from conservattack.attacks.running_stats import pearson_matrix
from problems import correlated_unit_data, model_labels, small_model

TOLERANCE = 1e-9  # running statistics against from-scratch ones: rounding only


def direct_budgets(X, num_bins, resamples, quantile, z, seed):
    """The budgets by the book: copy each resample, bin it, correlate it."""
    rng = np.random.default_rng((seed, SEED_STREAM))
    n = len(X)
    jsd, corr = [], []
    for _ in range(resamples):
        Xb = X[rng.integers(0, n, size=n)]
        jsd.append(jsd_per_feature(X, Xb, num_bins))
        corr.append(np.corrcoef(Xb.T))
    return np.quantile(np.array(jsd), quantile, axis=0), z * np.std(np.array(corr), axis=0, ddof=1)


@pytest.mark.parametrize("quantile, z", [(0.5, 1.0), (0.9, 2.0)])
def test_budgets_match_a_direct_bootstrap(quantile, z):
    X = correlated_unit_data(300, 3, seed=4)
    b = calibrate(X, 12, 30, quantile, z, seed=7)
    jsd, corr = direct_budgets(X, 12, 30, quantile, z, seed=7)
    np.testing.assert_allclose(b.jsd, jsd, rtol=1e-12)
    off = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose(b.corr[off], corr[off], rtol=1e-9)
    assert np.isinf(np.diag(b.corr)).all() and b.jsd_resamples.shape == (30, 3)


def test_budgets_are_seeded():
    X = correlated_unit_data(200, 3, seed=4)
    a, b, c = (calibrate(X, 10, 20, 0.5, 1.0, seed=s) for s in (1, 1, 2))
    assert np.array_equal(a.jsd, b.jsd) and np.array_equal(a.corr, b.corr)
    assert not np.array_equal(a.jsd, c.jsd)


def _case(seed, n=400, d=4):
    X = correlated_unit_data(n, d, seed=seed)
    model = small_model(d, seed=seed + 1)
    return model, X, model_labels(model, X)


MODES = {
    "grid": dict(min_change=0.01, step=0.01),
    "coarse grid": dict(min_change=0.05, step=0.04, alpha=0.5, beta=3.0),
    "random": dict(min_change=0.01, num_candidates=40),
    "jitter": dict(min_change=0.01, step=0.02, randomize_step=True, random_step_frac=0.3),
    "loose": dict(min_change=0.01, step=0.01, calibration_quantile=0.95, calibration_z=3.0),
}


def _params(mode, **extra):
    return {**dict(n_iterations=3, num_bins=15, constraints="calibrated", calibration_resamples=30), **MODES[mode],
            **extra}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("seed", [0, 5])
def test_compiled_engine_makes_the_reference_decisions(mode, seed):
    model, X, y = _case(seed)
    mask = np.zeros(len(X), bool)
    mask[::7] = True
    ref = attack(model, X, y, _params(mode, seed=seed), mask=mask, engine="numpy", progress=False)
    cpu = attack(model, X, y, _params(mode, seed=seed), mask=mask, engine="cpu", progress=False)
    assert np.array_equal(ref.X_adv, cpu.X_adv)
    assert np.array_equal(ref.fooled, cpu.fooled)
    assert [h["events_moved"] for h in ref.history] == [h["events_moved"] for h in cpu.history]
    assert ref.history[0]["events_moved"] > 0  # the case moves something
    assert np.array_equal(ref.X_adv[mask], X[mask])


def test_compiled_shortcuts_change_no_decision():
    """The unpruned compiled loop (every candidate scored) and the pruned one agree."""
    from conservattack.attacks.engines import calibrated_cpu, structs

    model, X, y = _case(3)
    decisions = []
    for prune in (True, False):
        st = state_module.AttackState(model, X.copy(), y, np.zeros(len(X), bool),
                                      AttackParams(**_params("grid")), engine="cpu")
        signs = np.where(np.random.default_rng(0).random(X.shape) < 0.5, -1.0, 1.0)
        events = np.arange(len(X), dtype=np.int64)
        draws = structs.Draws(signs, *st.draws(len(X)))
        calibrated_cpu.visit_events(st.X, events, draws, structs.bounds(st), structs.histograms(st.hist),
                                    structs.comoments(st.pearson), structs.rule(st.p), structs.budgets(st), prune)
        decisions.append(st.X.copy())
    assert np.array_equal(*decisions)
    assert not np.array_equal(decisions[0], X)


def _within_budgets(X_clean, X, budgets, num_bins):
    jsd = jsd_per_feature(X_clean, X, num_bins)
    corr = np.abs(pearson_matrix(X) - pearson_matrix(X_clean))
    np.fill_diagonal(corr, 0.0)
    sigma = np.array(budgets["corr_sigma"], dtype=float)
    z = budgets["z"]
    return (jsd / np.array(budgets["jsd"]) <= 1 + TOLERANCE).all() and \
        (corr <= np.maximum(z * sigma, 1e-12) * (1 + TOLERANCE) + np.eye(len(sigma))).all()


def _attack_checking_every_move(monkeypatch, state_type, within, model, X, y, params, **options):
    """``attack()`` with ``state_type.apply`` wrapped so that after every move that happened the
    set, recomputed from scratch, is checked by ``within(X_clean, X, budgets, num_bins)``; asserts
    that every move passed and returns the result."""
    checked = []
    apply = state_type.apply

    def checked_apply(self, i, x_new):
        moved = apply(self, i, x_new)
        if moved:
            checked.append(within(self.X_clean, self.X, self.budgets.to_dict(), self.p.num_bins))
        return moved

    monkeypatch.setattr(state_type, "apply", checked_apply)
    result = attack(model, X, y, params, progress=False, **options)
    monkeypatch.undo()
    assert checked and all(checked), f"{checked.count(False)} of {len(checked)} moves broke a budget"
    return result


@pytest.mark.parametrize("seed", range(4))
def test_no_admitted_move_breaks_a_budget(seed, monkeypatch):
    """After every single move (numpy engine) the set, recomputed from scratch, is within every
    budget; the compiled engine's sets after each iteration too."""
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 6))
    model, X, y = _case(seed, n=int(rng.integers(150, 400)), d=d)
    mode = sorted(MODES)[seed % len(MODES)]
    params = _params(mode, seed=seed, alpha=float(rng.uniform(0.5, 5)), calibration_z=float(rng.uniform(0.5, 2)))
    ref = _attack_checking_every_move(monkeypatch, state_module.AttackState, _within_budgets, model, X, y, params,
                                      engine="numpy")
    cpu = attack(model, X, y, params, engine="cpu", progress=False, record=True)
    for X_after in cpu.record["X_after"]:
        assert _within_budgets(X, X_after, cpu.budgets, params["num_bins"])
    assert np.array_equal(ref.X_adv, cpu.X_adv)
    last = cpu.history[-1]
    assert last["jsd_budget_ratio_max"] <= 1 + TOLERANCE and last["corr_budget_ratio_max"] <= 1 + TOLERANCE


def test_budgets_in_the_result_use_the_callers_columns():
    model, X, y = _case(1, d=3)
    X = np.column_stack([X[:, 0], np.full(len(X), 0.5), X[:, 1:]])  # a constant feature in column 1
    inner = small_model(4, seed=9)
    y = model_labels(inner, X)
    r = attack(inner, X, y, _params("grid", n_iterations=1), progress=False)
    assert r.budgets["jsd"][1] is None and r.budgets["corr_sigma"][1][2] is None
    assert r.budgets["jsd"][0] > 0 and r.budgets["corr_sigma"][0][2] > 0
    assert r.budgets["resamples"] == 30 and r.budgets["seconds"] >= 0


@pytest.mark.parametrize("extra, key", [
    (dict(calibration_quantile=1.0), "calibration_quantile"),
    (dict(calibration_quantile=0.0), "calibration_quantile"),
    (dict(calibration_z=0.0), "calibration_z"),
    (dict(calibration_z=-1.0), "calibration_z"),
    (dict(calibration_resamples=19), "calibration_resamples"),
    (dict(max_jsd_single_change=0.01), "max_jsd_single_change"),
    (dict(max_frob_single_change=0.5), "max_frob_single_change"),
    (dict(rule="reference"), "rule"),
    (dict(use_no_change=False), "use_no_change"),
    (dict(optimize_already_fooled=True), "optimize_already_fooled"),
    (dict(use_disco=True, calibration_dcor_sigma="jacknife"), "calibration_dcor_sigma.*did you mean 'jackknife'"),
])
def test_bad_calibrated_parameters_name_the_key(extra, key):
    cfg = {**_params("grid"), **extra}
    with pytest.raises(ParameterError, match=key):
        AttackParams.from_config(cfg)


def test_calibration_parameters_need_calibrated_constraints():
    with pytest.raises(ParameterError, match="calibration_z.*constraints: calibrated"):
        AttackParams(min_change=0.01, step=0.01, calibration_z=2.0)


def test_a_batch_of_events_refuses_calibrated_constraints():
    # (the cuda engine's exact mode runs them: tests/helpers/cuda_checks.py, in the CUDA simulator)
    model, X, y = _case(0)
    with pytest.raises(ParameterError, match="batch_events = 8 cannot be combined with constraints: calibrated"):
        attack(model, X, y, _params("grid"), engine="cuda", batch_events=8, progress=False)


# --- the distance-correlation constraint (use_disco) under calibrated budgets ------------------
def _dependent_data(n, seed):
    """Three features with a linear and a non-linear (quadratic) dependence."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    X[:, 1] = X[:, 0] ** 2 + 0.5 * X[:, 1]
    X[:, 2] = 0.3 * X[:, 0] + X[:, 2]
    return X


def test_leave_one_out_dcor_matches_the_dcor_package_on_each_reduced_set():
    import dcor

    X = _dependent_data(30, seed=0)
    loo = np.concatenate([C for _, C in distance_stats.leave_one_out_dcor(X, block_elements=500)])
    for i in range(len(X)):
        Xi = np.delete(X, i, axis=0)
        direct = [[dcor.distance_correlation(Xi[:, j], Xi[:, k]) for k in range(3)] for j in range(3)]
        np.testing.assert_allclose(loo[i], direct, rtol=0, atol=1e-12)
    jack = distance_stats.dcor_jackknife_sigma(X, block_elements=500)
    textbook = np.sqrt((len(X) - 1) / len(X) * ((loo - loo.mean(axis=0)) ** 2).sum(axis=0))
    np.fill_diagonal(textbook, 0.0)
    np.testing.assert_allclose(jack, textbook, rtol=1e-9, atol=1e-15)


def test_dcor_jackknife_sigma_agrees_with_a_direct_bootstrap():
    """The jackknife's spread against the bootstrap's (B = 200 copied resamples): measured ratios
    0.84-1.17 at n = 200 and 500 (seeds 0-1); the test allows 0.7-1.4 for coefficients above 0.1."""
    X = _dependent_data(300, seed=1)
    rng = np.random.default_rng(3)
    boot = np.std([distance_stats.distance_correlation_matrix(X[rng.integers(0, len(X), len(X))])
                   for _ in range(200)], axis=0, ddof=1)
    jack = distance_stats.dcor_jackknife_sigma(X)
    C = distance_stats.distance_correlation_matrix(X)
    pairs = np.triu(C > 0.1, 1)
    assert pairs.sum() >= 2
    ratio = jack[pairs] / boot[pairs]
    assert ((ratio > 0.7) & (ratio < 1.4)).all(), ratio


def test_disco_budgets_share_the_jsd_resamples_and_bound_dcor():
    X = correlated_unit_data(200, 3, seed=4)
    pearson = calibrate(X, 10, 25, 0.5, 1.0, seed=2)
    dc = calibrate(X, 10, 25, 0.5, 2.0, seed=2, dependence="distance_correlation")
    assert np.array_equal(pearson.jsd, dc.jsd) and dc.sigma_method == "jackknife" and pearson.sigma_method == "bootstrap"
    off = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose(dc.corr[off], 2.0 * distance_stats.dcor_jackknife_sigma(X)[off], rtol=1e-12)
    with pytest.raises(ValueError, match="dependence"):
        calibrate(X, 10, 25, 0.5, 1.0, seed=2, dependence="spearman")


def test_disco_bootstrap_budgets_match_a_direct_bootstrap():
    """calibration_dcor_sigma: bootstrap: the dCor spread over the same copied resamples as the
    JSD budgets (rng (seed, SEED_STREAM)); the JSD budgets stay those of the jackknife setting."""
    X = correlated_unit_data(120, 3, seed=6)
    b = calibrate(X, 10, 25, 0.5, 1.5, seed=3, dependence="distance_correlation", dcor_sigma="bootstrap")
    rng = np.random.default_rng((3, SEED_STREAM))
    direct = [distance_stats.distance_correlation_matrix(X[rng.integers(0, len(X), size=len(X))]) for _ in range(25)]
    off = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose(b.corr[off], 1.5 * np.std(direct, axis=0, ddof=1)[off], rtol=1e-10)
    jack = calibrate(X, 10, 25, 0.5, 1.5, seed=3, dependence="distance_correlation")
    assert b.sigma_method == "bootstrap" and jack.sigma_method == "jackknife" and np.array_equal(b.jsd, jack.jsd)
    with pytest.raises(ValueError, match="dcor_sigma"):
        calibrate(X, 10, 25, 0.5, 1.0, seed=2, dependence="distance_correlation", dcor_sigma="jacknife")


def _within_dcor_budgets(X_clean, X, budgets, num_bins):
    jsd = jsd_per_feature(X_clean, X, num_bins)
    dev = np.abs(distance_stats.distance_correlation_matrix(X) - distance_stats.distance_correlation_matrix(X_clean))
    np.fill_diagonal(dev, 0.0)
    limit = np.maximum(budgets["z"] * np.array(budgets["corr_sigma"], dtype=float), 1e-12)
    return (jsd / np.array(budgets["jsd"]) <= 1 + TOLERANCE).all() and (dev <= limit * (1 + TOLERANCE) + 1e-12).all()


@pytest.mark.parametrize("seed", range(3))
def test_no_admitted_disco_move_breaks_a_budget(seed, monkeypatch):
    """use_disco + calibrated: after every single move the set, recomputed from scratch (dCor by
    the block-wise distance sums), is within every budget; the naive engine makes the same decisions."""
    rng = np.random.default_rng(seed)
    model, X, y = _case(seed, n=int(rng.integers(120, 250)), d=int(rng.integers(2, 5)))
    mode = ("grid", "random", "jitter")[seed]
    params = _params(mode, seed=seed, use_disco=True, n_iterations=2, alpha=float(rng.uniform(0.5, 5)),
                     calibration_z=float(rng.uniform(0.5, 2)),
                     calibration_dcor_sigma=("jackknife", "bootstrap", "jackknife")[seed])
    ref = _attack_checking_every_move(monkeypatch, disco_module.DiscoAttack, _within_dcor_budgets, model, X, y,
                                      params)
    assert ref.budgets["dependence"] == "distance_correlation"
    assert ref.budgets["sigma_method"] == params["calibration_dcor_sigma"]
    assert ref.history[-1]["corr_budget_ratio_max"] <= 1 + TOLERANCE
    naive = attack(model, X, y, params, engine="naive", progress=False)
    assert np.array_equal(ref.X_adv, naive.X_adv) and np.array_equal(ref.fooled, naive.fooled)
