"""Study 9 (docs/method.md section 4): DisCo- and Pearson-constrained attacks with limited data, their
detectors, and detector AUROC versus training size.

Per run and method (``disco``, ``pearson``) the workflow attacks a fixed stratified subset of
the training split (the detector's training adversaries) and of the test split (its test
adversaries). ``limited_detector_study`` then trains the paper's MLP detector on the training
subset's clean events (label 1) against their fooled adversaries (label 0), class-balanced, on
nested fractions of the events, and evaluates each detector on the test subset: AUROC of clean
test events against the fooled test adversaries. The full-size detector's numbers at a threshold
(``detection.operating_point``) are left to a rule of their own, so that a new threshold does not
retrain.

An adversary and its clean event always fall on the same side of the training/validation split
(the split is by event), so the validation loss never sees the clean twin of a training adversary.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ..attacks.inference import predict_proba
from ..models.mlp import TrainingConfig, train_classifier
from .detection import detector_training_set

METHODS = ("disco", "pearson")


def event_holdout(events, fraction: float, seed: int):
    """Split event ids into (training order, validation set): a seeded permutation of ``events``,
    the last ``round(fraction * n)`` of which (at least 1) are the validation events. The training
    events keep the permutation's order, so that its prefixes are nested random subsets."""
    events = np.asarray(events)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_fraction must lie in (0, 1), got {fraction!r}")
    if len(events) < 4:
        raise ValueError(f"need at least 4 training events to hold some out, got {len(events)}")
    perm = np.random.default_rng(seed).permutation(events)
    n_val = min(max(1, int(round(fraction * len(events)))), len(events) - 2)
    return perm[: len(perm) - n_val], perm[len(perm) - n_val :]


def training_sizes(n: int, fractions) -> list[int]:
    """Event counts ceil(f * n) for each fraction f in (0, 1], at least 2 each."""
    out = []
    for f in fractions:
        if not 0.0 < float(f) <= 1.0:
            raise ValueError(f"training fractions must lie in (0, 1], got {f!r}")
        out.append(min(n, max(2, math.ceil(float(f) * n))))
    return out


def detector_auroc(score_clean, score_adversarial) -> float:
    """AUROC of the detector's P(clean) separating clean events (positive) from adversaries."""
    score_clean, score_adversarial = np.asarray(score_clean, float), np.asarray(score_adversarial, float)
    if score_clean.size == 0 or score_adversarial.size == 0:
        return float("nan")
    y = np.r_[np.ones(score_clean.size), np.zeros(score_adversarial.size)]
    return float(roc_auc_score(y, np.r_[score_clean, score_adversarial]))


def limited_detector_study(train_clean: pd.DataFrame, train_adv: pd.DataFrame, test_clean: pd.DataFrame,
                           test_adv: pd.DataFrame, features, fractions, validation_fraction: float,
                           training: TrainingConfig, seed: int, shuffle_seed: int, event: str = "event"):
    """Detectors on nested fractions of a limited training set; returns (full-size detector,
    per-fraction table, full-size metrics).

    ``train_clean``/``test_clean``: clean events (column ``event`` and the features, scaled);
    ``train_adv``/``test_adv``: adversaries tables (``conservattack.data.tables.adversaries_frame``:
    ``event``, ``fooled``, adversarial features). The training events (both clean and their
    fooled adversaries) are split by event into training and validation (``event_holdout``);
    fraction f keeps the first ceil(f * n) training events; the fractions are taken in increasing
    order and 1 is always one of them (the full-size detector). The table has one row per
    fraction: fraction, n_clean, n_adversarial (training events), detector_auroc on the test
    subset (NaN for a fraction whose events include no fooled adversary), and the detector's
    best_epoch, epochs_run and val_auroc (validation: held-out training events). The metrics, none
    of which depends on a threshold: detector_auroc, the initial (plain) fooling ratio of the test
    adversaries, and the full-size detector's training metrics.
    """
    features = list(features)
    fractions = sorted({float(f) for f in fractions} | {1.0})
    train_events, val_events = event_holdout(train_clean[event].to_numpy(), validation_fraction, seed)
    clean_by_event = train_clean.set_index(event)
    adv_by_event = train_adv.set_index(event)

    def pairs(events):
        clean = clean_by_event.loc[events, features].to_numpy(np.float64)
        adv = adv_by_event.loc[adv_by_event.index.intersection(events)]
        return clean, adv[features].to_numpy(np.float64), adv["fooled"].to_numpy(bool)

    X_va, y_va, w_va = detector_training_set(*pairs(val_events))
    X_test_clean = test_clean[features].to_numpy(np.float64)
    fooled_test = test_adv["fooled"].to_numpy(bool)
    X_test_adv = test_adv[features].to_numpy(np.float64)
    rows, model, metrics = [], None, {}
    for f, n in zip(fractions, training_sizes(len(train_events), fractions)):
        clean, adv, fooled = pairs(train_events[:n])
        if f < 1.0 and not fooled.any():
            rows.append({"fraction": f, "n_clean": len(clean), "n_adversarial": 0, "detector_auroc": float("nan")})
            continue
        X_tr, y_tr, w_tr = detector_training_set(clean, adv, fooled)
        model, metrics = train_classifier(X_tr, y_tr, X_va, y_va, training, seed=seed, weights_train=w_tr,
                                          weights_val=w_va, shuffle_seed=shuffle_seed)
        score_clean = predict_proba(model, X_test_clean)
        score_adv = predict_proba(model, X_test_adv)
        rows.append({"fraction": f, "n_clean": int(y_tr.sum()), "n_adversarial": int((y_tr == 0).sum()),
                     "detector_auroc": detector_auroc(score_clean, score_adv[fooled_test]),
                     "best_epoch": metrics["best_epoch"], "epochs_run": metrics["epochs_run"],
                     "val_auroc": metrics["val_auroc"]})
    full = {
        "detector_auroc": rows[-1]["detector_auroc"],
        "initial_fooling_ratio": float(fooled_test.mean()) if fooled_test.size else float("nan"),
        "n_validation_events": int(len(val_events)),
        "training": {k: v for k, v in metrics.items() if k != "history"},
    }
    return model, pd.DataFrame(rows), full
