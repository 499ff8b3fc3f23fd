"""What an attack rule starts from: the split's events, the run's model and the targeted events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..attacks.inference import predict_proba
from ..data.io import read_parquet
from ..data.preprocessing import MinMaxScaler
from ..data.tables import EVENT, LABEL, features_and_labels
from ..models.mlp import load_model


TARGETS = ("correct", "correct_background", "correct_signal", "all")


def attack_targets(y, prob, target: str) -> np.ndarray:
    """Events to attack: ``correct`` (correctly classified), ``correct_background`` /
    ``correct_signal`` (correctly classified of one class) or ``all``."""
    y, pred = np.asarray(y), (np.asarray(prob) >= 0.5).astype(np.int64)
    correct = pred == y
    if target == "correct":
        return correct
    if target == "correct_background":
        return correct & (y == 0)
    if target == "correct_signal":
        return correct & (y == 1)
    if target == "all":
        return np.ones(len(y), dtype=bool)
    raise ValueError(f"unknown attack target {target!r}; expected one of {TARGETS}")


@dataclass
class AttackInputs:
    features: tuple[str, ...]
    events: pd.DataFrame
    X: np.ndarray
    y: np.ndarray
    model: torch.nn.Module
    targets: np.ndarray  # the events to attack


def load_attack_inputs(events_path, scaler_path, model_path, target: str) -> AttackInputs:
    """Read a split and a model and select the ``target`` events (``attack_targets``);
    fewer than two targeted events is an error naming the files."""
    features = MinMaxScaler.load(scaler_path).features
    events = read_parquet(events_path, [*features, LABEL, EVENT])
    X, y = features_and_labels(events, features)
    model = load_model(model_path)
    targets = attack_targets(y, predict_proba(model, X), target)
    if targets.sum() < 2:
        raise ValueError(f"{model_path}: {int(targets.sum())} event(s) of {events_path} are '{target}', at least "
                         "2 are needed to attack; is the model trained (see its .json)?")
    return AttackInputs(features, events, X, y, model, targets)
