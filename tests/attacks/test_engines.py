"""The engines make the same decisions: cpu (compiled) == numpy (reference) to the bit; naive
(statistics from scratch before every event) equal within rounding. Plus degenerate inputs, the
gradient sign of saturated models, and the benchmark's output format."""

import copy

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon

from conservattack import AttackParams, attack
from conservattack.attacks.engines import cpu as kernels
from conservattack.attacks.engines import structs
from conservattack.plots import figures as plots
from conservattack.attacks.state import AttackState
from conservattack.attacks.inference import loss_gradient_sign, predict_proba
from conservattack.attacks.metrics import jsd_per_feature
from conservattack.attacks.running_stats import bin_edges, comoment_matrix
from problems import correlated_unit_data, model_labels, small_model
from oracle import candidate_table

MODES = [
    {},
    {"use_no_change": False},
    {"num_candidates": 20},
    {"num_candidates": 7, "randomize_step": True, "random_step_frac": 0.4, "use_no_change": False},
    {"randomize_step": True, "random_step_frac": 0.2},
]


def problem(seed):
    rng = np.random.default_rng(seed)
    d, n = int(rng.integers(2, 7)), int(rng.integers(100, 300))
    X = correlated_unit_data(n, d, seed)
    model = small_model(d, seed)
    y = model_labels(model, X)
    y[rng.choice(n, 5, replace=False)] ^= 1
    mask = (rng.random(n) < 0.1) if seed % 2 else None
    base = dict(min_change=0.005, step=float(rng.choice([0.002, 0.01, 0.03])), n_iterations=3,
                num_bins=int(rng.choice([10, 30, 100])), alpha=4.0, beta=1.0,
                max_jsd_single_change=float(rng.choice([0.01, 0.05])),
                max_frob_single_change=float(rng.choice([0.002, 0.01, 0.05])), seed=seed)
    return model, X, y, mask, base


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", range(len(MODES)))
def test_cpu_engine_is_bit_identical_to_numpy(seed, mode):
    model, X, y, mask, base = problem(seed)
    params = AttackParams(**{**base, **MODES[mode]})
    a = attack(model, X, y, params, mask=mask, progress=False, engine="numpy")
    b = attack(model, X, y, params, mask=mask, progress=False, engine="cpu")
    assert (a.X_adv != X).any(axis=1).mean() > 0.2, "the case must move events"
    assert np.array_equal(a.X_adv, b.X_adv)
    assert np.array_equal(a.fooled, b.fooled)
    assert [h["fooling_ratio"] for h in a.history] == [h["fooling_ratio"] for h in b.history]


def test_bin_jump_skips_only_candidates_of_the_same_bin():
    # kernels.past_rest_of_bin against a scan one candidate at a time: it may stop short of the
    # first candidate in another bin (the scan then jumps again) but never pass it. Steps far
    # below, near and above the bin width, both directions, candidates up to the range's ends.
    rng = np.random.default_rng(0)
    bin_of = kernels._bin_of
    cases = exact = jumps = 0
    for _ in range(4000):
        lo, hi = np.sort(rng.uniform(-1.0, 2.0, 2))
        nb = int(rng.integers(1, 80))
        edges = bin_edges(lo, hi, nb)[None, :]
        width = (hi - lo) / nb
        xj, s = rng.uniform(lo, hi), float(rng.choice([-1.0, 1.0]))
        mcj = float(rng.choice([0.0, rng.uniform(0, 3) * width]))
        stj = float(rng.choice([1e-4, 0.1, 0.5, 1.0, 1.0 / 3.0, 2.5])) * width

        def candidate(k):
            return xj + s * (mcj + k * stj)

        inside = [k for k in range(4000) if lo <= candidate(k) <= hi]
        if not inside:
            continue
        k = int(rng.choice(inside[:3] + inside[-3:] + [inside[len(inside) // 2]]))
        b = bin_of(candidate(k), edges, 0, nb)
        first_other = k + 1
        while lo <= candidate(first_other) <= hi and bin_of(candidate(first_other), edges, 0, nb) == b:
            first_other += 1
        got = kernels.past_rest_of_bin(k, b, xj, s, mcj, stj, lo, hi, edges, 0, nb)
        assert k < got <= first_other
        cases += 1
        exact += got == first_other
        jumps += got - k > 1
    assert jumps > 1000 and exact > 0.99 * cases  # the guess is almost always the first other candidate


def test_pruning_matters_and_keeps_decisions():
    """A Higgs-like grid (K = 2000 per feature) where most candidates break the FN limit."""
    X = correlated_unit_data(3000, 8, seed=4)
    model = small_model(8, seed=4)
    y = model_labels(model, X)
    params = AttackParams(min_change=0.0005, step=0.0005, n_iterations=2, num_bins=200, alpha=4.0, beta=1.0,
                          max_jsd_single_change=0.006, max_frob_single_change=0.0005)
    a = attack(model, X[:400], y[:400], params, progress=False, engine="numpy")
    b = attack(model, X[:400], y[:400], params, progress=False, engine="cpu")
    assert (a.X_adv != X[:400]).any(axis=1).mean() > 0.5
    assert np.array_equal(a.X_adv, b.X_adv)


@pytest.mark.parametrize("seed", [0, 3])
def test_naive_engine_agrees(seed):
    model, X, y, mask, base = problem(seed)
    params = AttackParams(**{**base, "n_iterations": 2})
    a = attack(model, X, y, params, mask=mask, progress=False, engine="numpy")
    c = attack(model, X, y, params, mask=mask, progress=False, engine="naive")
    np.testing.assert_allclose(c.X_adv, a.X_adv, rtol=0, atol=1e-12)
    assert np.array_equal(a.fooled, c.fooled)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("use_no_change", [True, False])
def test_batched_apply_step_keeps_the_moves_a_from_scratch_check_admits(seed, use_no_change):
    """The batched mode's host step (engines.cpu.apply_chosen): moves chosen elsewhere are applied in
    event order (any order), and with use_no_change a feature's move is dropped exactly when the
    oracle, recomputing JSD and FN from scratch on the set as it is just before that event, finds
    it breaks a per-move limit. The running statistics it leaves agree with a recount."""
    model, X, y, _, base = problem(seed)
    params = AttackParams(**{**base, "use_no_change": use_no_change})
    n, d = X.shape
    rng = np.random.default_rng(100 + seed)
    lo, hi = X.min(axis=0), X.max(axis=0)
    proposed = np.clip(X + rng.choice([0.0, 0.002, 0.02, 0.2], size=(n, d)) * rng.choice([-1.0, 1.0], size=(n, d)),
                       lo, hi)
    events = rng.permutation(n)[: 2 * n // 3].astype(np.int64)
    state = AttackState(model, X.copy(), y, np.zeros(n, bool), params, engine="cpu")
    h, c = state.hist, state.pearson
    moved = kernels.apply_chosen(state.X, events, proposed[events], structs.histograms(h), structs.comoments(c),
                                 structs.rule(params))
    nb = params.num_bins
    P = [np.histogram(X[:, j], bins=nb, range=(lo[j], hi[j]))[0] / n for j in range(d)]
    expected = X.copy()
    for i in events:
        before = expected.copy()
        for j in np.flatnonzero(proposed[i] != before[i]):
            delta = proposed[i, j] - before[i, j]
            row = candidate_table(before, i, j, [delta], P, lo, hi, nb, params.alpha, params.beta,
                                  params.max_jsd_single_change, params.max_frob_single_change)[0]
            if row["admissible"] or not use_no_change:
                expected[i, j] = proposed[i, j]
    assert np.array_equal(state.X, expected)
    assert moved == int((expected != X).any(axis=1).sum())
    tried = proposed[events] != X[events]
    kept = (expected[events] == proposed[events])[tried].mean()
    assert (0.1 < kept < 0.9) if use_no_change else kept == 1.0, kept
    mu, S = comoment_matrix(expected)
    np.testing.assert_allclose(c.mu, mu, rtol=0, atol=1e-13)
    np.testing.assert_allclose(c.S, S, rtol=1e-12, atol=1e-12)
    counts = np.stack([np.histogram(expected[:, j], bins=bin_edges(lo[j], hi[j], nb))[0] for j in range(d)])
    assert np.array_equal(h.counts, counts)
    js = np.array([jensenshannon(P[j], counts[j] / n, base=2) for j in range(d)])
    np.testing.assert_allclose(np.sqrt(np.maximum(h.term_sum, 0.0) / (2 * np.log(2))), js, rtol=0, atol=1e-9)


@pytest.mark.parametrize("engine", ["numpy", "cpu"])
@pytest.mark.parametrize("use_no_change", [True, False])
def test_move_that_would_make_a_column_constant_is_never_taken(engine, use_no_change):
    # feature 1 is zero but for one event: moving that event to 0 would make the column constant
    X = np.zeros((16, 2))
    X[:, 0] = np.linspace(0, 1, 16)
    X[0, 1] = 1.0
    model = small_model(2, seed=1)
    y = model_labels(model, X)
    params = AttackParams(min_change=0.5, step=0.5, n_iterations=2, num_bins=4, alpha=1.0, beta=1.0,
                          max_jsd_single_change=1.0, max_frob_single_change=10.0, use_no_change=use_no_change)
    res = attack(model, X, y, params, progress=False, engine=engine)
    assert res.X_adv[:, 1].max() > res.X_adv[:, 1].min()
    assert all(np.isfinite(h["relative_fn"]) for h in res.history)


def test_constant_features_are_frozen():
    X = correlated_unit_data(200, 4, seed=2)
    X = np.column_stack([X[:, :2], np.zeros(200), X[:, 2:]])  # a zero-padded column
    model = small_model(5, seed=2)
    y = model_labels(model, X)
    params = AttackParams(min_change=0.01, step=0.02, n_iterations=2, num_bins=15, alpha=4.0, beta=1.0,
                          max_jsd_single_change=0.05, max_frob_single_change=0.02)
    res = attack(model, X, y, params, progress=False)
    assert (res.X_adv[:, 2] == 0).all()
    assert (res.X_adv != X).any(axis=1).mean() > 0.5
    h = res.history[-1]
    assert h["jsd"][2] == 0.0 and len(h["jsd"]) == 5
    # the summaries are over all five features, as the list and the metric are
    jsd = jsd_per_feature(X, res.X_adv, params.num_bins)
    np.testing.assert_allclose(h["jsd"], jsd, rtol=0, atol=1e-12)
    assert h["jsd_mean"] == pytest.approx(jsd.mean(), abs=1e-12) and h["jsd_max"] == pytest.approx(jsd.max())
    assert h["jsd_median"] == pytest.approx(np.median(jsd), abs=1e-12)
    assert np.isfinite(h["relative_fn"])
    shown, titles = plots.jsd_extremes(h["jsd"], X)  # the figure's min/median/max never a constant one
    assert 2 not in shown and titles == ["min JSD", "median JSD", "max JSD"]
    assert h["jsd"][shown[0]] == min(h["jsd"][j] for j in (0, 1, 3, 4))


def test_gradient_sign_of_a_saturated_sigmoid():
    lin = torch.nn.Linear(3, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -1.0, 1.0]]))
        lin.bias.zero_()
    model = torch.nn.Sequential(lin, torch.nn.Sigmoid()).eval()
    for z in (2.0, 17.0, 40.0, 95.0):  # p == 1.0 in float32 from z ~ 17 on
        X = np.array([[z, 0.0, 0.0]])
        np.testing.assert_array_equal(loss_gradient_sign(model, X, np.array([1]))[0], [-1, 1, -1])
        np.testing.assert_array_equal(loss_gradient_sign(model, -X, np.array([0]))[0], [1, -1, 1])
    # unsaturated: identical to autograd of the binary cross-entropy itself
    X = correlated_unit_data(50, 3, seed=0)
    y = (np.arange(50) % 2).astype(int)
    xt = torch.tensor(X, dtype=torch.float32, requires_grad=True)
    loss = torch.nn.functional.binary_cross_entropy(model(xt).reshape(-1), torch.tensor(y, dtype=torch.float32),
                                                    reduction="sum")
    (g,) = torch.autograd.grad(loss, xt)
    np.testing.assert_array_equal(loss_gradient_sign(model, X, y), np.where(g.numpy() >= 0, 1.0, -1.0))


def test_a_float64_model_is_evaluated_in_float64(small_problem):
    # inputs follow the model's dtype: a model.double() used to fail inside torch ("mat1 and mat2
    # must have the same dtype"); in float64 it sees the attacked values unrounded
    model, X, y = small_problem
    double = copy.deepcopy(model).double()
    x = torch.tensor(X, dtype=torch.float64)
    with torch.no_grad():
        expected = double(x).numpy().ravel()
    np.testing.assert_array_equal(predict_proba(double, X), expected)
    assert not np.array_equal(predict_proba(model, X), expected)  # float32 rounds differently
    res = attack(double, X, y, {"min_change": 0.01, "step": 0.02, "n_iterations": 2, "num_bins": 10},
                 engine="cpu", progress=False)
    assert res.fooled.any() and np.isfinite(res.X_adv).all()

