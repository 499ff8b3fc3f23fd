"""Study-level computations of the attack study: targets and cross-run matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd


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


def cross_run_fooling(labels: dict[str, np.ndarray],
                      probabilities: dict[tuple[str, str], np.ndarray]) -> pd.DataFrame:
    """Fooling-ratio matrix: row s = adversaries of run s, column t = model of run t.

    ``labels[s]`` = true labels of run s's attacked events; ``probabilities[(s, t)]`` = model t's
    P(class 1) on run s's adversarial events. Entry = fraction of them misclassified by model t.
    The diagonal is white-box (each run's own fooling ratio), the rest grey-box.
    """
    runs = list(labels)
    M = pd.DataFrame(index=pd.Index(runs, name="adversaries_of"), columns=pd.Index(runs, name="model"),
                     dtype=float)
    for s in runs:
        for t in runs:
            pred = (probabilities[(s, t)] >= 0.5).astype(np.int64)
            M.loc[s, t] = float((pred != labels[s]).mean())
    return M


def cross_run_corrected(labels: dict[str, np.ndarray], probabilities: dict[tuple[str, str], np.ndarray],
                        detector_scores: dict[tuple[str, str], np.ndarray], threshold: float = 0.5) -> pd.DataFrame:
    """Corrected fooling-ratio matrix: the fraction of run s's attacked events that fool
    classifier t AND pass detector t (detector P(clean) >= threshold)."""
    runs = list(labels)
    M = pd.DataFrame(index=pd.Index(runs, name="adversaries_of"), columns=pd.Index(runs, name="model"),
                     dtype=float)
    for s in runs:
        for t in runs:
            fooled = (probabilities[(s, t)] >= 0.5).astype(np.int64) != labels[s]
            M.loc[s, t] = float((fooled & (detector_scores[(s, t)] >= threshold)).mean())
    return M


def grey_box_summary(M: pd.DataFrame) -> dict:
    """Mean white-box (diagonal) and grey-box (off-diagonal) fooling ratios of a cross-run matrix."""
    A = M.to_numpy(float)
    off = ~np.eye(len(A), dtype=bool)
    return {"white_box_mean": float(np.diag(A).mean()),
            "grey_box_mean": float(A[off].mean()) if off.any() else float("nan"),
            "grey_box_std": float(A[off].std(ddof=1)) if off.sum() > 1 else float("nan")}
