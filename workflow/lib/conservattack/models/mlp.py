"""The paper's classifier/detector MLP, its deterministic training and its files (docs/method.md section 4)."""

from __future__ import annotations

import copy
import json
import math
import time
import zipfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from ..attacks.inference import events_tensor, predict_proba
from ..attacks.params import ParameterError
from .exported import is_exported_program, load_exported

HIDDEN = (300, 102, 12, 6)


class PaperMLP(nn.Sequential):
    """Dense 300 ReLU, BN, Dense 102 ReLU, BN, Dense 12 ReLU, BN, Dense 6 ReLU, BN, Dense 1 sigmoid.

    42,163 trainable parameters for 30 inputs, 59,263 for 87. Returns P(class 1), shape (n, 1).
    Batch normalisation uses Keras's defaults (the paper's framework): momentum 0.99 of the running
    statistics (torch momentum 0.01) and eps 1e-3.
    """

    def __init__(self, n_inputs: int):
        layers: list[nn.Module] = []
        width = n_inputs
        for h in HIDDEN:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.BatchNorm1d(h, eps=1e-3, momentum=0.01)]
            width = h
        layers += [nn.Linear(width, 1), nn.Sigmoid()]
        super().__init__(*layers)
        self.n_inputs = n_inputs


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass(frozen=True)
class TrainingConfig:
    """Adam + binary cross-entropy with early stopping on the validation loss."""

    learning_rate: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 100
    patience: int = 10
    min_delta: float = 0.0

    def __post_init__(self):
        for name, integer, minimum in (("learning_rate", False, 0), ("batch_size", True, 1),
                                       ("max_epochs", True, 1), ("patience", True, 1),
                                       ("min_delta", False, 0)):
            v = getattr(self, name)
            ok = isinstance(v, int) if integer else isinstance(v, (int, float))
            if isinstance(v, bool) or not ok or v < minimum or (name == "learning_rate" and v == 0):
                raise ParameterError(f"training parameter '{name}' is invalid: {v!r}")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "TrainingConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ParameterError(f"unknown training parameter(s) {unknown}; known: {sorted(known)}")
        return cls(**cfg)


def seed_everything(seed: int, shuffle_seed: int | None = None) -> torch.Generator:
    """Seed torch's global generator (weight initialisation) and return the generator of the
    mini-batch order (seeded with ``shuffle_seed``, default ``seed``)."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    gen = torch.Generator()
    gen.manual_seed(seed if shuffle_seed is None else shuffle_seed)
    return gen


def _bce(model: nn.Module, X: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None,
         batch: int = 65536) -> float:
    """Mean (weighted) binary cross-entropy."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for s in range(0, len(X), batch):
            p = model(X[s : s + batch]).reshape(-1)
            wb = None if w is None else w[s : s + batch]
            total += float(nn.functional.binary_cross_entropy(p, y[s : s + batch], weight=wb, reduction="sum"))
    return total / (len(X) if w is None else float(w.sum()))


def train_classifier(X_train, y_train, X_val, y_val, config: TrainingConfig, seed: int,
                     weights_train=None, progress: bool = False, shuffle_seed: int | None = None,
                     weights_val=None):
    """Train a fresh ``PaperMLP``; returns (model in eval mode, metrics dict).

    ``seed`` initialises the weights; ``shuffle_seed`` (default ``seed``) orders the mini-batches.
    Runs that should differ only in initialisation share ``shuffle_seed``. Deterministic for given
    seeds and thread count on CPU. The weights of the epoch with the lowest validation loss are
    kept. ``weights_train`` and ``weights_val`` optionally weight events (class balance); the
    early-stopping loss is then the weighted validation loss.
    """
    gen = seed_everything(seed, shuffle_seed)
    Xt = events_tensor(X_train, torch.float32)
    yt = events_tensor(y_train, torch.float32)
    wt = None if weights_train is None else events_tensor(weights_train, torch.float32)
    Xv = events_tensor(X_val, torch.float32)
    yv = events_tensor(y_val, torch.float32)
    wv = None if weights_val is None else events_tensor(weights_val, torch.float32)
    model = PaperMLP(Xt.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    best_loss, best_state, best_epoch, bad_epochs = math.inf, None, 0, 0
    history = []
    t0 = time.perf_counter()
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        perm = torch.randperm(len(Xt), generator=gen)
        running = 0.0
        for s in range(0, len(Xt), config.batch_size):
            idx = perm[s : s + config.batch_size]
            if len(idx) < 2:  # BatchNorm needs two events; drop a last singleton batch
                continue
            p = model(Xt[idx]).reshape(-1)
            w = None if wt is None else wt[idx]
            loss = nn.functional.binary_cross_entropy(p, yt[idx], weight=w)
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item() * len(idx)
        val_loss = _bce(model, Xv, yv, wv)
        history.append({"epoch": epoch, "train_loss": running / len(Xt), "val_loss": val_loss})
        if progress:
            print(f"epoch {epoch}: train {running / len(Xt):.4f} val {val_loss:.4f}", flush=True)
        if val_loss < best_loss - config.min_delta:
            best_loss, best_state, best_epoch, bad_epochs = val_loss, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            bad_epochs += 1
            if bad_epochs >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    metrics = {
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "val_loss": best_loss,
        "val_auroc": float(roc_auc_score(np.asarray(y_val), predict_proba(model, X_val))),
        "train_seconds": time.perf_counter() - t0,
        "trainable_parameters": count_parameters(model),
        "history": history,
    }
    return model, metrics


def save_model(model: PaperMLP, path, metadata: Mapping[str, Any]) -> None:
    """Write the weights to ``path`` (.pt) and ``metadata`` (config, metrics, provenance) beside it
    as JSON (same name, .json)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"n_inputs": model.n_inputs, "state_dict": model.state_dict()}, path)
    path.with_suffix(".json").write_text(json.dumps({"n_inputs": model.n_inputs, **metadata}, indent=2))


def is_torchscript(path) -> bool:
    """Whether ``path`` is a TorchScript archive (``torch.jit.save``), not a ``save_model`` file."""
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.split("/")[1:2] == ["code"] for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def load_model(path) -> nn.Module:
    """Load a model written by ``save_model``, in eval mode; or a TorchScript model or a
    ``torch.export`` program (the analyst toolkit's imported model, conservattack.models.imported), which
    takes the scaled features as well."""
    if is_exported_program(path):
        return load_exported(path)
    if is_torchscript(path):
        try:
            return torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as exc:  # noqa: BLE001 - re-raised with the file named
            raise ValueError(f"{path}: cannot load the TorchScript model ({exc})") from exc
    try:
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
        model = PaperMLP(int(blob["n_inputs"]))
        model.load_state_dict(blob["state_dict"])
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f"{path}: not a conservattack model file ({exc})") from exc
    return model.eval()


def training_config_dict(config: TrainingConfig) -> dict:
    return asdict(config)
