"""The benchmarks' fixed problem: a seeded synthetic set and a fixed randomly initialised paper MLP;
and the calibrated-constraints version of a case's attack parameters."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..attacks.params import BY_NAME, PER_MOVE_LIMITS, AttackParams
from ..models.mlp import PaperMLP


def synthetic_set(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Correlated two-component Gaussian mixture, min-max scaled to [0, 1]."""
    rng = np.random.default_rng(seed)
    L = rng.normal(size=(d, d)) / np.sqrt(d)
    shift = rng.normal(size=d)
    comp = rng.random(n) < 0.5
    X = rng.normal(size=(n, d)) @ L.T + np.where(comp[:, None], shift, -shift)
    return (X - X.min(0)) / (X.max(0) - X.min(0))


def fixed_model(d: int, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = PaperMLP(d)
    model.eval()
    # a freshly initialised BatchNorm is the identity; give it data-like statistics
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(0.0, 0.5)
                m.running_var.uniform_(0.05, 0.5)
    return model


def calibrated(params: AttackParams, **calibration) -> AttackParams:
    """``params`` under the calibrated constraints (the per-move limits back at their defaults)."""
    per_move = {name: BY_NAME[name].default for name in PER_MOVE_LIMITS}
    return replace(params, **per_move, constraints="calibrated", **calibration)
