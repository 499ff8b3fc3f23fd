"""The analyst's own model (paper section 11; docs/method.md, study 10): a TorchScript model
(``torch.jit.load``) or a ``torch.export`` program (``torch.export.load``), checked on events and
wrapped so that it takes the workflow's min-max scaled features. Every error names the file and
what was expected.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from ..attacks.inference import logit_head, model_dtype, predict_proba
from .exported import EXPORT_RECIPE, ExportedModel, is_exported_program, load_exported, save_exported


class ScaledInputModel(torch.nn.Module):
    """The user's model behind the workflow's min-max scaling: ``forward`` takes scaled features
    (what the attack moves), unscales them to physical units and calls the user's model."""

    def __init__(self, model: torch.nn.Module, lo, hi):
        super().__init__()
        self.model = model
        self.register_buffer("lo", torch.tensor(lo, dtype=torch.float32))
        self.register_buffer("span", torch.tensor(np.subtract(hi, lo), dtype=torch.float32))

    def unscale(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.span + self.lo

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.unscale(x))


class ScaledInputModelWithLogit(ScaledInputModel):
    """``ScaledInputModel`` of a model whose logit is known (``inference.logit_head``: a Sequential
    ending in a sigmoid, or an exported ``logit`` method), exporting it as ``logit`` so that the
    attack's gradient sign stays exact where float32 saturates the sigmoid."""

    def __init__(self, model: torch.nn.Module, head: torch.nn.Module, lo, hi):
        super().__init__(model, lo, hi)
        self.head = head

    @torch.jit.export
    def logit(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.unscale(x))


def load_user_model(path) -> torch.nn.Module:
    """The analyst's model file: a ``torch.export`` program (``ExportedModel``) or TorchScript."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file (custom.model.path)")
    if is_exported_program(path):
        return load_exported(path)
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f"{path}: neither a torch.export program nor a TorchScript model; save it with "
                         f"{EXPORT_RECIPE}, or with torch.jit.save(torch.jit.script(model), path) "
                         f"({type(exc).__name__}: {exc})") from exc


def _cause(exc: Exception, last: bool = True) -> str:
    """A TorchScript error's cause without the scripted code it quotes: the last non-empty line
    of the message (a run-time error: the Python-level error is there) or the first (a compile
    error: the code follows it)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[-1] if last else lines[0]) if lines else type(exc).__name__


def _scripted_behind_scaling(path, user: torch.jit.ScriptModule, scaler) -> torch.jit.ScriptModule:
    """A TorchScript model taking physical units, scripted again behind the unscaling (with its
    logit exported where ``logit_head`` finds one)."""
    head = logit_head(user)
    wrapper = (ScaledInputModel(user, scaler.lo, scaler.hi) if head is None
               else ScaledInputModelWithLogit(user, head, scaler.lo, scaler.hi))
    try:
        return torch.jit.script(wrapper).eval()
    except Exception as exc:  # noqa: BLE001 - TorchScript's compile error, re-raised with the file named
        raise ValueError(f"{path}: cannot put the model behind the workflow's scaling (custom.model.inputs: raw): "
                         f"its forward must take one float tensor (events x features) and return one tensor, "
                         f"P(class 1) ({_cause(exc, last=False)})") from exc


def import_model(path, scaler, X_scaled: np.ndarray, y: np.ndarray, inputs: str = "raw"):
    """The user's model wrapped to take scaled features (``inputs`` ``raw``: it expects physical
    units; ``scaled``: it expects the workflow's min-max scaled features as they are), checked on
    ``X_scaled``: it must return one P(class 1) in [0, 1] per event. Returns the model, scripted
    (a TorchScript model) or eager around the program (a ``torch.export`` program; ``save_imported``
    exports it again), and its checks (AUROC and accuracy on these events)."""
    from sklearn.metrics import roc_auc_score

    user = load_user_model(path)
    if inputs == "raw" and isinstance(user, ExportedModel):
        # the logit is found again in the wrapper's exported graph, which ends with the user's sigmoid
        model = ScaledInputModel(user, scaler.lo, scaler.hi).eval()
    elif inputs == "raw":
        model = _scripted_behind_scaling(path, user, scaler)
    elif inputs == "scaled":
        model = user
    else:
        raise ValueError(f"custom.model.inputs must be 'raw' or 'scaled', got {inputs!r}")
    try:
        p = predict_proba(model, X_scaled)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f"{path}: the model fails on {X_scaled.shape[1]} features ({len(scaler.features)} "
                         f"configured: {list(scaler.features)}; inputs: {inputs}): {_cause(exc)}") from exc
    checks = {"events": len(p), "auroc": float(roc_auc_score(y, p)) if len(set(y)) == 2 else float("nan"),
              "accuracy": float(((p >= 0.5) == (y == 1)).mean())}
    if checks["auroc"] < 0.5:  # "correct" and "fooled" would mean their opposites
        raise ValueError(f"{path}: AUROC {checks['auroc']:.3f} on the validation split, below 0.5: the model ranks "
                         f"background above signal. It must return P(class 1), class 1 being label 1 of "
                         f"custom.data.label (signal); if it returns P(background), wrap it to return 1 - p")
    return model, checks


def save_imported(model, n_features: int, path) -> None:
    """Write ``import_model``'s model in one go (no partial file if saving fails): TorchScript as
    it is, any other model (around a ``torch.export`` program) exported again."""
    if not isinstance(model, torch.jit.ScriptModule):
        save_exported(model, n_features, model_dtype(model), path)
        return
    buf = io.BytesIO()
    torch.jit.save(model, buf)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(buf.getvalue())

