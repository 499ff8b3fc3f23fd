"""Evaluation metrics of an attack (docs/method.md section 2.11), from scratch."""

from __future__ import annotations

import numpy as np

from .running_stats import histogram_counts, js_distance_rows, pearson_matrix


def jsd_per_feature(X_clean, X_adv, num_bins: int) -> np.ndarray:
    """Jensen-Shannon distance (base 2) per feature between clean and adversarial histograms.

    Both use the attack's bins: ``num_bins`` equal-width bins over the clean [min, max] of each
    feature (adversarial values never leave that range).
    """
    X_clean = np.asarray(X_clean, dtype=np.float64)
    X_adv = np.asarray(X_adv, dtype=np.float64)
    lo, hi = X_clean.min(axis=0), X_clean.max(axis=0)

    def probabilities(X):
        return np.stack([histogram_counts(X[:, j], lo[j], hi[j], num_bins) for j in range(X.shape[1])]) / len(X)

    return js_distance_rows(probabilities(X_clean), probabilities(X_adv))


def relative_frobenius(C_clean, C_adv) -> float:
    """||C_adv - C_clean||_F / ||C_clean||_F over the whole matrix."""
    C_clean = np.asarray(C_clean, dtype=np.float64)
    return float(np.linalg.norm(np.asarray(C_adv) - C_clean) / np.linalg.norm(C_clean))


def relative_frobenius_of_sets(X_clean, X_adv) -> float:
    """Relative Frobenius norm between the Pearson matrices of two sets."""
    return relative_frobenius(pearson_matrix(X_clean), pearson_matrix(X_adv))


def fooling_ratio(pred_adv, y, targeted=None) -> float:
    """Fraction of targeted events whose predicted label differs from the true label."""
    pred_adv, y = np.asarray(pred_adv), np.asarray(y)
    targeted = np.ones(len(y), bool) if targeted is None else np.asarray(targeted, bool)
    return float((pred_adv[targeted] != y[targeted]).mean()) if targeted.any() else float("nan")


def jsd_summary(jsd) -> dict:
    """An iteration record's JSD entries: the per-feature list and its mean, median and max."""
    jsd = np.asarray(jsd, dtype=np.float64)
    return {"jsd": jsd.tolist(), "jsd_mean": float(jsd.mean()), "jsd_median": float(np.median(jsd)),
            "jsd_max": float(jsd.max())}
