"""Study-level computations: cross-run matrices and their summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .detection import corrected_fooling_ratio


def cross_run_fooling(labels: dict[str, np.ndarray], probabilities: dict[tuple[str, str], np.ndarray],
                      detector_scores: dict[tuple[str, str], np.ndarray] | None = None,
                      threshold: float = 0.5) -> pd.DataFrame:
    """Fooling-ratio matrix: row s = adversaries of run s, column t = model of run t.

    ``labels[s]`` = true labels of run s's attacked events; ``probabilities[(s, t)]`` = model t's
    P(class 1) on run s's adversarial events. Entry = fraction of them misclassified by model t.
    The diagonal is white-box (each run's own fooling ratio), the rest grey-box. With
    ``detector_scores[(s, t)]`` (detector t's P(clean) on them), the corrected fooling ratio:
    misclassified by model t AND passing detector t (score >= ``threshold``).
    """
    runs = list(labels)
    M = pd.DataFrame(index=pd.Index(runs, name="adversaries_of"), columns=pd.Index(runs, name="model"),
                     dtype=float)
    for s in runs:
        for t in runs:
            fooled = (probabilities[(s, t)] >= 0.5).astype(np.int64) != labels[s]
            M.loc[s, t] = (float(fooled.mean()) if detector_scores is None
                           else corrected_fooling_ratio(fooled, detector_scores[(s, t)], threshold))
    return M


def grey_box_summary(M: pd.DataFrame) -> dict:
    """Mean white-box (diagonal) and grey-box (off-diagonal) fooling ratios of a cross-run matrix."""
    A = M.to_numpy(float)
    off = ~np.eye(len(A), dtype=bool)
    return {"white_box_mean": float(np.diag(A).mean()),
            "grey_box_mean": float(A[off].mean()) if off.any() else float("nan"),
            "grey_box_std": float(A[off].std(ddof=1)) if off.sum() > 1 else float("nan")}
