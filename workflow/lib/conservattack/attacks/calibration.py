"""Budgets of the calibrated constraints (``constraints: calibrated``, docs/method.md section 2.13).

The per-move limits of the paper (``max_jsd_single_change``, ``max_frob_single_change``) are
numbers whose meaning changes with the sample size. The calibrated constraints instead bound the
adversarial set's distance to the clean one by the clean set's own statistical precision,
measured with B bootstrap resamples of the clean attacked set:

- per feature j, the JSD budget b_j is the ``calibration_quantile`` of the JS distances between
  the clean histogram and a resample's histogram (the attack's bins);
- per correlation coefficient (j, k), the budget is z * sigma_jk, with sigma_jk the bootstrap
  standard deviation (ddof 1) of the resamples' Pearson coefficients and z ``calibration_z``; with
  the distance-correlation constraint (``use_disco``) sigma_jk is by default the delete-one
  jackknife's standard deviation of the dCor coefficient (``distance_stats.dcor_jackknife_sigma``, about
  one from-scratch O(n^2 d^2) matrix), or with ``dcor_sigma="bootstrap"`` the standard deviation
  over the same resamples' dCor matrices (B from-scratch matrices of the copied resamples).

A resample is n indices drawn with replacement; it enters as multiplicities w (how often each
event was drawn), so its histograms are weighted counts and its co-moments (X - mu_w)^T diag(w)
(X - mu_w): the same numbers as those of the resampled set, without copying it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .distance_stats import dcor_jackknife_sigma, distance_correlation_matrix
from .params import DCOR_SIGMAS
from .running_stats import bin_index_rows, correlation_from_comoments, feature_bin_edges, js_distance_rows

# A coefficient or feature whose bootstrap spread is exactly zero (every resample gives the same
# value) gets this budget instead: in effect it must not change, and the budget ratios stay finite.
BUDGET_FLOOR = 1e-12
SEED_STREAM = 0xCA1  # the calibration's random stream, apart from the attack's own (seed, this)


@dataclass(frozen=True)
class Budgets:
    """The calibrated budgets of one attacked set (d features).

    jsd : (d,) JSD budget per feature (the quantile of ``jsd_resamples``).
    corr_sigma : (d, d) standard deviation of each dependence coefficient (diagonal 0).
    corr : (d, d) the budget of each coefficient, z * corr_sigma (floored, diagonal inf).
    jsd_resamples : (B, d) the resamples' JS distances to the clean histograms.
    dependence : the coefficients, ``pearson`` or ``distance_correlation`` (``use_disco``).
    sigma_method : how corr_sigma was estimated, ``bootstrap`` (Pearson) or ``jackknife`` (dCor).
    quantile, z, resamples, seed : the calibration's settings; seconds : its time.
    """

    jsd: np.ndarray
    corr_sigma: np.ndarray
    corr: np.ndarray
    jsd_resamples: np.ndarray
    dependence: str
    sigma_method: str
    quantile: float
    z: float
    resamples: int
    seed: int
    seconds: float

    def to_dict(self, columns=None, n_features: int | None = None) -> dict:
        """JSON-ready budgets; with ``columns`` (the attacked features' positions among
        ``n_features``), in the caller's columns, constant features' entries null."""
        jsd, sigma = self.jsd.tolist(), self.corr_sigma.tolist()
        if columns is not None:
            full_jsd = [None] * n_features
            full_sigma = [[None] * n_features for _ in range(n_features)]
            for a, ca in enumerate(columns):
                full_jsd[ca] = jsd[a]
                for b, cb in enumerate(columns):
                    full_sigma[ca][cb] = sigma[a][b]
            jsd, sigma = full_jsd, full_sigma
        return {"jsd": jsd, "corr_sigma": sigma, "dependence": self.dependence, "sigma_method": self.sigma_method,
                "quantile": self.quantile, "z": self.z,
                "resamples": self.resamples, "seed": self.seed, "seconds": self.seconds,
                "jsd_resample_median": np.median(self.jsd_resamples, axis=0).tolist()}


def resample_indices(rng: np.random.Generator, n: int) -> np.ndarray:
    """The events of one bootstrap resample: n draws with replacement (``rng.integers``)."""
    return rng.integers(0, n, size=n)


def weighted_pearson(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pearson matrix of the set in which event i appears w_i times (sum w = n)."""
    Xc = X - (w @ X) / w.sum()
    return correlation_from_comoments((Xc * w[:, None]).T @ Xc)


DEPENDENCES = ("pearson", "distance_correlation")


def calibrate(X, num_bins: int, resamples: int, quantile: float, z: float, seed: int,
              dependence: str = "pearson", dcor_sigma: str = "jackknife") -> Budgets:
    """Budgets of the calibrated constraints for the clean attacked set X (n x d, no constant
    feature), from ``resamples`` bootstrap resamples drawn with ``default_rng((seed, SEED_STREAM))``;
    ``dependence`` names the correlation coefficients the budgets bound, ``dcor_sigma`` how the
    spread of a distance correlation is estimated (module docstring)."""
    if dependence not in DEPENDENCES:
        raise ValueError(f"dependence must be one of {DEPENDENCES}, got {dependence!r}")
    if dcor_sigma not in DCOR_SIGMAS:
        raise ValueError(f"dcor_sigma must be one of {DCOR_SIGMAS}, got {dcor_sigma!r}")
    pearson = dependence == "pearson"
    resampled = pearson or dcor_sigma == "bootstrap"  # the coefficients' spread over the resamples
    t0 = time.perf_counter()
    X = np.ascontiguousarray(X, dtype=np.float64)
    n, d = X.shape
    edges = feature_bin_edges(X.min(axis=0), X.max(axis=0), num_bins)
    # each value's bin, offset per feature, so that one bincount gives every feature's histogram
    flat = (bin_index_rows(X.T, edges).T + (np.arange(d) * num_bins)[None, :]).ravel()
    P = np.bincount(flat, minlength=d * num_bins).reshape(d, num_bins) / n
    rng = np.random.default_rng((seed, SEED_STREAM))
    jsd = np.empty((resamples, d))
    corr = np.empty((resamples if resampled else 0, d, d))
    for b in range(resamples):
        idx = resample_indices(rng, n)
        w = np.bincount(idx, minlength=n).astype(np.float64)
        weighted = np.bincount(flat, weights=np.repeat(w, d), minlength=d * num_bins).reshape(d, num_bins)
        jsd[b] = js_distance_rows(P, weighted / n)
        if pearson:
            corr[b] = weighted_pearson(X, w)
        elif resampled:  # a copied resample: its repeated events are at distance 0 from each other
            corr[b] = distance_correlation_matrix(X[idx])
    sigma = corr.std(axis=0, ddof=1) if resampled else dcor_jackknife_sigma(X)
    np.fill_diagonal(sigma, 0.0)
    budget_corr = np.maximum(z * sigma, BUDGET_FLOOR)
    np.fill_diagonal(budget_corr, np.inf)
    return Budgets(jsd=np.maximum(np.quantile(jsd, quantile, axis=0), BUDGET_FLOOR), corr_sigma=sigma,
                   corr=budget_corr, jsd_resamples=jsd, dependence=dependence,
                   sigma_method="bootstrap" if resampled else "jackknife", quantile=float(quantile), z=float(z),
                   resamples=int(resamples), seed=int(seed), seconds=time.perf_counter() - t0)
