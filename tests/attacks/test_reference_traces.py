"""The authors' decision rule (rule: reference) replayed on their recorded decisions.

Every case of ../shared/data/reference-traces (README there) is run through the public API,
``attack(model, X, y, params)`` with ``rule: reference``, from X_clean, y and the model's weights
alone; the recorded gradient signs, every chosen candidate, the set after every iteration (exact,
in the case's dtype), the fooled masks and the authors' reported metrics must all be the
recorded ones. Skips cleanly where the folder is absent."""

import json

import numpy as np
import pytest
import torch

from conservattack import AttackParams, attack
from conservattack.attacks import reference
from paths import SHARED

TRACES = SHARED / "data" / "reference-traces"
CASES = sorted(p.name for p in TRACES.iterdir() if (p / "trace.npz").is_file()) if TRACES.is_dir() else []
pytestmark = pytest.mark.skipif(not CASES, reason=f"no reference traces at {TRACES}")


def logistic_model(W, b) -> torch.nn.Module:
    """The traces' Keras model, Dense(1, sigmoid) with kernel W and bias b, as a torch module."""
    layer = torch.nn.Linear(len(W), 1)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(W)[None, :])
        layer.bias.copy_(torch.as_tensor(b))
    return torch.nn.Sequential(layer, torch.nn.Sigmoid()).eval()


def load(case):
    trace = np.load(TRACES / case / "trace.npz")
    kwargs = json.loads((TRACES / case / "params.json").read_text())["generate_adversarial_samples_kwargs"]
    params = AttackParams(rule="reference", n_chunks=kwargs["n_gpus"], min_change=kwargs["min_change"],
                          step=kwargs["step"], n_iterations=kwargs["n_iterations"], num_bins=kwargs["num_bins"],
                          alpha=kwargs["alpha"], beta=kwargs["beta"],
                          max_jsd_single_change=kwargs["max_jsd_single_change"],
                          max_frob_single_change=kwargs["max_frob_single_change"],
                          use_no_change=kwargs["use_no_change"])
    return trace, params, logistic_model(trace["W"], trace["b"])


def engines_of(case):
    """The reference rule's engines for a case: numpy, and the compiled cpu engine for float64 sets."""
    return ["numpy"] if case == "float32_input" else ["numpy", "cpu"]


@pytest.fixture(scope="module", params=[(case, engine) for case in CASES for engine in engines_of(case)],
                ids=lambda p: f"{p[0]}-{p[1]}")
def replayed(request):
    case, engine = request.param
    trace, params, model = load(case)
    result = attack(model, trace["X_clean"], trace["y"], params, progress=False, record=True, engine=engine)
    return case, trace, result


def test_every_decision_is_the_recorded_one(replayed):
    case, trace, result = replayed
    choices = np.array(result.record["choices"])
    assert len(choices) == len(trace["v_best_idx"]), case
    assert np.array_equal(choices[:, 0].astype(np.int64), trace["v_iter"] + 1), case  # iterations count from 1
    for column, recorded in ((1, "v_worker"), (2, "v_pos"), (3, "v_event"), (4, "v_feature"), (5, "v_best_idx")):
        assert np.array_equal(choices[:, column].astype(np.int64), trace[recorded].astype(np.int64)), (case, recorded)
    assert np.array_equal(choices[:, 6].astype(np.float32), trace["v_best_change"]), case


def test_the_set_after_every_iteration_is_the_recorded_one(replayed):
    case, trace, result = replayed
    X_after = result.record["X_after"]
    assert len(X_after) == trace["X_after"].shape[0]
    for it, X in enumerate(X_after):
        assert X.dtype == trace["X_clean"].dtype, case
        assert np.array_equal(X, trace["X_after"][it]), (case, it)
    assert result.X_adv.dtype == trace["X_clean"].dtype and np.array_equal(result.X_adv, trace["X_after"][-1])


def test_fooled_masks_and_reported_metrics_are_the_recorded_ones(replayed):
    case, trace, result = replayed
    assert np.array_equal(result.fooled, trace["fooled_after"][-1]), case
    for it, h in enumerate(result.history):
        assert h["fooling_ratio"] == trace["fooling_ratio"][it], (case, it)
        assert np.array_equal(h["reference_jsd"], trace["jsd_per_feature"][it]), (case, it)
        assert np.array_equal(h["reference_jsd50"], trace["jsd50_per_feature"][it]), (case, it)
        assert h["reference_frob_abs"] == trace["frob_abs"][it] and h["reference_relative_fn"] == trace["rel_fn"][it]


@pytest.mark.parametrize("case", CASES)
def test_gradient_signs_from_the_weights_are_the_recorded_ones(case):
    trace, params, model = load(case)
    X = trace["X_clean"].copy()
    fooled = np.zeros(len(X), dtype=bool)
    for it in range(params.n_iterations):
        rows = trace["v_iter"] == it
        events = np.flatnonzero(~fooled)
        signs = reference.gradient_signs(model, X[events], trace["y"][events])
        slot_of = {e: k for k, e in enumerate(events.tolist())}
        ours = signs[[slot_of[e] for e in trace["v_event"][rows]], trace["v_feature"][rows]]
        assert np.array_equal(ours, trace["v_direction"][rows]), (case, it)
        X, fooled = trace["X_after"][it], trace["fooled_after"][it]


def test_keras_clipping_gives_saturated_events_direction_plus_one():
    # p rounds below 1e-7 for y = 0: the clipped cross-entropy has no gradient there, so every
    # feature goes up whatever the weights' signs
    model = logistic_model(np.array([-3.0, 2.0, -1.0], np.float32), np.array([-40.0], np.float32))
    X = np.array([[0.5, 0.5, 0.5], [1.0, 0.0, 0.9]])
    assert np.array_equal(reference.gradient_signs(model, X, np.zeros(2)), np.ones((2, 3)))
    # near the boundary the sign is that of (p - y) w
    model = logistic_model(np.array([-3.0, 2.0, -1.0], np.float32), np.array([0.0], np.float32))
    assert np.array_equal(reference.gradient_signs(model, X[:1], np.zeros(1)), [[-1, 1, -1]])


def test_more_chunks_than_features_and_exact_engines_are_refused(small_problem):
    from conservattack import ParameterError

    model, X, y = small_problem
    with pytest.raises(ParameterError, match=r"'n_chunks' must be between 1 and the number of features \(4\)"):
        attack(model, X, y, {"min_change": 0.01, "step": 0.01, "rule": "reference", "n_chunks": 5}, progress=False)
    for engine in ("cuda", "naive"):
        with pytest.raises(ParameterError, match=f"engine '{engine}' does not run the reference rule"):
            attack(model, X, y, {"min_change": 0.01, "step": 0.01, "rule": "reference"}, engine=engine, progress=False)


def test_reference_rule_on_a_float32_set_stays_float32_and_is_reproducible(small_problem):
    model, X, y = small_problem
    params = {"min_change": 0.01, "step": 0.02, "n_iterations": 2, "num_bins": 10, "rule": "reference",
              "n_chunks": 2, "max_jsd_single_change": 0.2, "max_frob_single_change": 0.2}
    a = attack(model, X.astype(np.float32), y, params, progress=False)
    b = attack(model, X.astype(np.float32), y, params, progress=False)
    assert a.X_adv.dtype == np.float32 and np.array_equal(a.X_adv, b.X_adv)
    assert (a.X_adv != X.astype(np.float32)).any()
    h = a.history[-1]
    assert {"reference_jsd", "reference_jsd50", "reference_frob_abs", "reference_relative_fn", "jsd",
            "relative_fn"} <= set(h)


@pytest.mark.parametrize("mode", [{"num_candidates": 7}, {"randomize_step": True, "random_step_frac": 0.3}])
def test_reference_rule_random_mode_and_jitter_follow_the_seed(small_problem, mode):
    model, X, y = small_problem
    params = {"min_change": 0.01, "step": 0.02, "n_iterations": 1, "num_bins": 10, "rule": "reference",
              "max_jsd_single_change": 0.3, "max_frob_single_change": 0.3, **mode}
    a = attack(model, X, y, {**params, "seed": 1}, progress=False)
    b = attack(model, X, y, {**params, "seed": 1}, progress=False)
    c = attack(model, X, y, {**params, "seed": 2}, progress=False)
    assert np.array_equal(a.X_adv, b.X_adv) and not np.array_equal(a.X_adv, c.X_adv)


def test_the_audit_names_the_unconstrained_cross_chunk_correlations(replayed):
    # with several chunks, correlations between features of different chunks are never checked:
    # the history says how far the largest of them moved, beside the largest within a chunk
    case, trace, result = replayed
    h = result.history[-1]
    C0 = np.corrcoef(trace["X_clean"].astype(np.float64), rowvar=False)
    C1 = np.corrcoef(result.X_adv.astype(np.float64), rowvar=False)
    owner = trace["chunk_of_feature"]
    across = owner[:, None] != owner[None, :]
    if across.any():
        assert h["cross_chunk_max_shift"] == pytest.approx(np.abs(C1 - C0)[across].max(), rel=0, abs=1e-15)
        j, k = h["cross_chunk_pair"]
        assert owner[j] != owner[k]
    else:
        assert h["cross_chunk_max_shift"] == 0.0
    assert h["within_chunk_max_shift"] <= np.abs(C1 - C0).max() + 1e-15
