"""The calibrated constraints (``constraints: calibrated``, docs/method.md section 2.12): budgets
against a direct bootstrap, no admitted move ever breaking a budget, the compiled engine making the
numpy reference's decisions, and the parameters' errors."""

from __future__ import annotations

import numpy as np
import pytest

from conservattack.attacks import state as state_module
from conservattack.attacks.api import attack
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


@pytest.mark.parametrize("seed", range(4))
def test_no_admitted_move_breaks_a_budget(seed, monkeypatch):
    """After every single move (numpy engine) the set, recomputed from scratch, is within every
    budget; the compiled engine's sets after each iteration too."""
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 6))
    model, X, y = _case(seed, n=int(rng.integers(150, 400)), d=d)
    mode = sorted(MODES)[seed % len(MODES)]
    params = _params(mode, seed=seed, alpha=float(rng.uniform(0.5, 5)), calibration_z=float(rng.uniform(0.5, 2)))
    checked = []
    apply = state_module.AttackState.apply

    def checked_apply(self, i, x_new):
        moved = apply(self, i, x_new)
        if moved:
            checked.append(_within_budgets(self.X_clean, self.X, self.budgets.to_dict(), self.p.num_bins))
        return moved

    monkeypatch.setattr(state_module.AttackState, "apply", checked_apply)
    ref = attack(model, X, y, params, engine="numpy", progress=False)
    assert checked and all(checked), f"{checked.count(False)} of {len(checked)} moves broke a budget"
    monkeypatch.undo()
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
    (dict(use_disco=True), "use_disco"),
    (dict(optimize_already_fooled=True), "optimize_already_fooled"),
])
def test_bad_calibrated_parameters_name_the_key(extra, key):
    cfg = {**_params("grid"), **extra}
    with pytest.raises(ParameterError, match=key):
        AttackParams.from_config(cfg)


def test_calibration_parameters_need_calibrated_constraints():
    with pytest.raises(ParameterError, match="calibration_z.*constraints: calibrated"):
        AttackParams(min_change=0.01, step=0.01, calibration_z=2.0)


def test_cuda_engine_refuses_calibrated_constraints():
    model, X, y = _case(0)
    with pytest.raises(ParameterError, match="cuda"):
        attack(model, X, y, _params("grid"), engine="cuda", progress=False)
