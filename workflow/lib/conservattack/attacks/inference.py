"""Evaluating a binary classifier: probabilities and the sign of the input gradient of its loss."""

from __future__ import annotations

import numpy as np
import torch

BATCH = 65536  # events per forward pass: bounds memory on million-event sets


def model_device(model: torch.nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def model_dtype(model: torch.nn.Module) -> torch.dtype:
    """The floating dtype the model's inputs are given in: that of its first floating parameter
    (float64 for a ``model.double()``), float32 without one (the paper's MLP is float32)."""
    for p in model.parameters():
        if p.dtype.is_floating_point:
            return p.dtype
    return torch.float32


def events_tensor(X, dtype: torch.dtype, device=None) -> torch.Tensor:
    """A per-event array (features, labels, weights) as a tensor of ``dtype`` on ``device``, sharing
    memory where torch can.

    A read-only array (pandas 3 hands out read-only views from ``DataFrame.to_numpy``) is copied
    first: torch cannot hold a read-only buffer, and ``torch.as_tensor`` would warn that writing to
    the tensor is undefined, in every rule's log.
    """
    X = np.asarray(X)
    if not X.flags.writeable:
        return torch.tensor(X, dtype=dtype, device=device)
    return torch.as_tensor(X, dtype=dtype, device=device)


def predict_proba(model: torch.nn.Module, X, batch_size: int = BATCH) -> np.ndarray:
    """P(class 1) per event as float64, the model evaluated in eval mode in its own floating dtype
    (``model_dtype``: float32 for the paper's MLP).

    Raises ValueError when the model does not return one probability in [0, 1] per event.
    """
    model.eval()
    device, dtype = model_device(model), model_dtype(model)
    X = np.asarray(X)
    out = np.empty(len(X), dtype=np.float64)
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            xb = events_tensor(X[start : start + batch_size], dtype, device)
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


class _LogitMethod(torch.nn.Module):
    """A TorchScript model's exported ``logit`` method as a module."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.logit(x)


def _is(module, cls) -> bool:
    """``module`` is a ``cls``, eager or compiled by TorchScript (script or trace keep the name)."""
    return isinstance(module, cls) or (isinstance(module, torch.jit.ScriptModule)
                                       and getattr(module, "original_name", None) == cls.__name__)


def logit_head(model: torch.nn.Module):
    """The model without its final sigmoid (returns the logit z), or None if it has none.

    Recognised, eager or TorchScript: an ``nn.Sequential`` whose last layer is ``nn.Sigmoid``
    (the paper's MLP); a TorchScript model with an exported ``logit(x)`` method (decorated
    ``@torch.jit.export``); and any module with a ``logit_head()`` method.
    """
    # a live torch.jit.trace result cannot call its submodules (once saved and loaded it can)
    if _is(model, torch.nn.Sequential) and not isinstance(model, torch.jit.TracedModule):
        layers = list(model.children())
        if layers and _is(layers[-1], torch.nn.Sigmoid):
            return torch.nn.Sequential(*layers[:-1]).eval()
    if isinstance(model, torch.jit.ScriptModule) and hasattr(model, "logit"):
        return _LogitMethod(model).eval()
    head = getattr(model, "logit_head", None)
    return head() if callable(head) else None


def loss_gradient_sign(model: torch.nn.Module, X, y, batch_size: int = BATCH) -> np.ndarray:
    """Sign (+1/-1) of d BCE(f(x), y) / dx per event and feature; a zero gradient counts as +1.

    dBCE/dx = (p - y) / (p (1 - p)) * dp/dx, and p - y has the sign of 1 - 2y for any p in (0, 1),
    so the sign is that of (1 - 2y) dz/dx with z the logit before a final sigmoid. Using z
    avoids the float32 saturation of the sigmoid (p == 1.0 from z ~ 17 on), which would make the
    gradient exactly zero for confidently classified events. Models without a recognisable final
    sigmoid (``logit_head``) use dp/dx instead. Inputs are given in the model's dtype
    (``model_dtype``).
    """
    model.eval()
    head = logit_head(model)
    device, dtype = model_device(model), model_dtype(model)
    X = np.asarray(X)
    signs = np.empty(X.shape, dtype=np.float64)
    for start in range(0, len(X), batch_size):
        xb = events_tensor(X[start : start + batch_size], dtype, device)
        xb.requires_grad_(True)
        out = head(xb).reshape(-1) if head is not None else _probabilities(model(xb), len(xb))
        (grad,) = torch.autograd.grad(out.sum(), xb)  # events are independent in eval mode
        direction = 1.0 - 2.0 * np.asarray(y[start : start + batch_size], dtype=np.float64)
        signs[start : start + len(xb)] = np.where(direction[:, None] * grad.double().cpu().numpy() >= 0, 1.0, -1.0)
    return signs
