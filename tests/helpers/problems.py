"""Small seeded problems the tests share: correlated features in [0, 1] and a small classifier."""

from __future__ import annotations

import numpy as np
import torch


def correlated_unit_data(n: int, d: int, seed: int) -> np.ndarray:
    """Correlated Gaussian features, min-max scaled to [0, 1]."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d))
    X = rng.normal(size=(n, d)) @ A
    return (X - X.min(0)) / (X.max(0) - X.min(0))


def small_model(d: int, seed: int = 0, gain: float = 3.0) -> torch.nn.Module:
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Linear(d, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1), torch.nn.Sigmoid())
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(gain)
    return m.eval()


def model_labels(model, X) -> np.ndarray:
    with torch.no_grad():
        return (model(torch.as_tensor(X, dtype=torch.float32)).numpy().ravel() >= 0.5).astype(int)
