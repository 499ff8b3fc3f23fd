"""Evaluating a binary classifier: probabilities and the sign of the input gradient of its loss."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

BATCH = 65536  # events per forward pass: bounds memory on million-event sets


def model_device(model: torch.nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def predict_proba(model: torch.nn.Module, X, batch_size: int = BATCH) -> np.ndarray:
    """P(class 1) per event as float64, the model evaluated in float32 in eval mode.

    Raises ValueError when the model does not return one probability in [0, 1] per event.
    """
    model.eval()
    device = model_device(model)
    X = np.asarray(X)
    out = np.empty(len(X), dtype=np.float64)
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            xb = torch.as_tensor(X[start : start + batch_size], dtype=torch.float32, device=device)
            out[start : start + len(xb)] = _probabilities(model(xb), len(xb)).double().cpu().numpy()
    return out


def _probabilities(p, n: int) -> torch.Tensor:
    if not isinstance(p, torch.Tensor):
        raise ValueError(f"model must return a torch.Tensor, got {type(p).__name__}")
    if p.shape not in ((n,), (n, 1)):
        raise ValueError(
            f"model output has shape {tuple(p.shape)} for {n} events; expected one probability "
            f"per event, shape ({n},) or ({n}, 1)"
        )
    p = p.reshape(-1)
    bad = ~torch.isfinite(p) | (p < 0) | (p > 1)
    if bool(bad.any()):
        first = int(torch.nonzero(bad)[0])
        raise ValueError(
            f"model output for event {first} is {float(p[first])!r}; expected P(class 1) in [0, 1] "
            "(does the model end with a sigmoid?)"
        )
    return p


def loss_gradient_sign(model: torch.nn.Module, X, y, batch_size: int = BATCH) -> np.ndarray:
    """Sign (+1/-1) of d BCE(f(x), y) / dx per event and feature; a zero gradient counts as +1."""
    model.eval()
    device = model_device(model)
    X = np.asarray(X)
    signs = np.empty(X.shape, dtype=np.float64)
    for start in range(0, len(X), batch_size):
        xb = torch.as_tensor(X[start : start + batch_size], dtype=torch.float32, device=device)
        xb.requires_grad_(True)
        yb = torch.as_tensor(y[start : start + batch_size], dtype=torch.float32, device=device)
        p = _probabilities(model(xb), len(xb))
        loss = F.binary_cross_entropy(p, yb, reduction="sum")
        (grad,) = torch.autograd.grad(loss, xb)
        signs[start : start + len(xb)] = np.where(grad.cpu().numpy() >= 0, 1.0, -1.0)
    return signs
