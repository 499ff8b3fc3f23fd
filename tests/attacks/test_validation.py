"""Bad input to attack() and to the parameters: a clear error naming what is wrong."""

import numpy as np
import pytest
import torch

from conservattack import AttackParams, ParameterError, attack

P = dict(min_change=0.01, step=0.02, n_iterations=1, num_bins=10)


def test_nan_and_inf_are_rejected_with_position(small_problem):
    model, X, y = small_problem
    X = X.copy()
    X[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"non-finite.*event 7, feature 2"):
        attack(model, X, y, P, progress=False)
    X[7, 2] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        attack(model, X, y, P, progress=False)


def test_shapes_labels_and_mask(small_problem):
    model, X, y = small_problem
    with pytest.raises(ValueError, match=r"y must have shape \(300,\)"):
        attack(model, X, y[:-1], P, progress=False)
    with pytest.raises(ValueError, match="2-D"):
        attack(model, X[:, 0], y, P, progress=False)
    with pytest.raises(ValueError, match="labels y must be 0 or 1"):
        attack(model, X, np.where(y == 1, 2, 0), P, progress=False)
    with pytest.raises(ValueError, match="mask must be a boolean"):
        attack(model, X, y, P, mask=np.zeros(300, int), progress=False)
    with pytest.raises(ValueError, match="mask must be a boolean"):
        attack(model, X, y, P, mask=np.zeros(10, bool), progress=False)
    with pytest.raises(ValueError, match="every feature of X is constant"):
        attack(model, np.full_like(X, 0.5), y, P, progress=False)
    with pytest.raises(ParameterError, match="unknown attack engine 'gpu'"):
        attack(model, X, y, P, progress=False, engine="gpu")


def test_model_output_is_checked(small_problem):
    _, X, y = small_problem
    two = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Softmax(dim=1))
    with pytest.raises(ValueError, match=r"model output has shape \(\d+, 2\).*one probability per event"):
        attack(two, X, y, P, progress=False)
    logits = torch.nn.Linear(4, 1)
    with torch.no_grad():
        logits.bias.fill_(5.0)
    with pytest.raises(ValueError, match=r"expected P\(class 1\) in \[0, 1\]"):
        attack(logits, X, y, P, progress=False)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        attack(lambda x: x, X, y, P, progress=False)


@pytest.mark.parametrize("bad,name", [
    (dict(min_change=0.0), "min_change"), (dict(min_change=-1e-3), "min_change"),
    (dict(step=0.0), "step"), (dict(num_bins=1), "num_bins"), (dict(n_iterations=0), "n_iterations"),
    (dict(n_iterations=2.5), "n_iterations"), (dict(alpha=-1.0), "alpha"), (dict(alpha="4"), "alpha"),
    (dict(max_jsd_single_change=float("nan")), "max_jsd_single_change"),
    (dict(num_candidates=0), "num_candidates"), (dict(use_no_change="yes"), "use_no_change"),
    (dict(random_step_frac=1.0), "random_step_frac"), (dict(num_bins=True), "num_bins"),
])
def test_parameters_out_of_range_name_the_parameter(bad, name):
    with pytest.raises(ParameterError, match=f"'{name}'"):
        AttackParams(**{**P, **bad})


def test_unknown_parameter_is_named(small_problem):
    model, X, y = small_problem
    with pytest.raises(ParameterError, match=r"unknown attack parameter\(s\) \['stepsize'\]"):
        attack(model, X, y, {**P, "stepsize": 0.1}, progress=False)
    with pytest.raises(ParameterError, match="'min_change' is required"):
        AttackParams.from_config({"step": 0.1})
