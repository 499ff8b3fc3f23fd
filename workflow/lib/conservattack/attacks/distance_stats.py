"""Distance correlations from scratch (Szekely, Rizzo and Bakirov 2007; V-statistic, the value of
``dcor.distance_correlation``): the sums they are made of, the matrix of every feature pair, and
the leave-one-out matrices and jackknife spread the calibrated constraints use
(docs/method.md sections 2.12 and 2.13). Arrays only; ``conservattack.attacks.disco`` builds the
running statistics and the DisCo attack on them.

Notation, per feature j: a^j_ab = |x_aj - x_bj|, row sums r^j_a = sum_b a^j_ab, grand sum
R_j = sum_a r^j_a; per feature pair (j, k): T_jk = sum_ab a^j_ab a^k_ab and U_jk = sum_a r^j_a r^k_a;
N_jk = n^2 dCov^2(x_j, x_k) = T_jk - (2/n) U_jk + R_j R_k / n^2 and
dCor(x_j, x_k) = sqrt(N_jk / sqrt(N_jj N_kk)).
"""

from __future__ import annotations

import numpy as np

# Elements of the largest temporary (block of distances or of candidate deltas): 2^22 doubles = 32 MiB.
BLOCK_ELEMENTS = 1 << 22


def distance_sums(X, block_elements: int = BLOCK_ELEMENTS):
    """Row sums r (n x d), grand sums R (d), T (d x d) and U (d x d) of the per-feature distance
    matrices of X, from scratch (module docstring). O(n^2 d^2) time, O(n d + block) memory."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (events x features), got shape {X.shape}")
    n, d = X.shape
    r = np.empty((n, d))
    T = np.zeros((d, d))
    rows = max(1, block_elements // max(n * d, 1))
    for s in range(0, n, rows):
        dist = np.abs(X[s : s + rows, None, :] - X[None, :, :])  # (rows, n, d)
        r[s : s + rows] = dist.sum(axis=1)
        flat = dist.reshape(-1, d)
        T += flat.T @ flat
    return r, r.sum(axis=0), T, r.T @ r


def dcor_from_sums(T, U, R, n: int) -> np.ndarray:
    """Distance correlation matrix from the sums of ``distance_sums``; the diagonal is 1 for every
    non-constant feature, and every entry involving a constant feature is 0 (as in ``dcor``)."""
    N = np.asarray(T) - (2.0 / n) * np.asarray(U) + np.outer(R, R) / float(n) ** 2
    return dcor_from_centred(N)


def dcor_from_centred(N: np.ndarray) -> np.ndarray:
    """dCor from N = n^2 dCov^2 (d x d, or a stack of them: ... x d x d)."""
    var = np.diagonal(N, axis1=-2, axis2=-1).copy()
    denom = np.sqrt(var[..., :, None] * var[..., None, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        C2 = np.where(denom > 0, N / np.where(denom > 0, denom, 1.0), 0.0)
    C = np.sqrt(np.maximum(C2, 0.0))
    idx = np.arange(var.shape[-1])
    C[..., idx, idx] = np.where(var > 0, 1.0, 0.0)
    return C


def distance_correlation_matrix(X, block_elements: int = BLOCK_ELEMENTS) -> np.ndarray:
    """Matrix of pairwise distance correlations of the columns of X (V-statistic, exponent 1):
    entry (j, k) equals ``dcor.distance_correlation(X[:, j], X[:, k])``. O(n^2 d^2) time."""
    r, R, T, U = distance_sums(X, block_elements)
    return dcor_from_sums(T, U, R, len(r))


def leave_one_out_dcor(X, block_elements: int = BLOCK_ELEMENTS):
    """The distance-correlation matrix of X without event i, for every i, in blocks of events:
    yields (slice of events, their matrices: events x d x d). O(n^2 d^2) in all, as one from-scratch
    computation.

    Removing event i takes row and column i out of every distance matrix (a_ii = 0): with
    Q_i = A_i^T A_i and S_i = A_i^T r (A_i the n x d distances of event i, d x d each),
    T' = T - 2 Q_i, U' = U - r_i r_i^T - S_i - S_i^T + Q_i, R' = R - 2 r_i and n' = n - 1."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    if n < 3:
        raise ValueError(f"the leave-one-out distance correlations need at least 3 events, got {n}")
    r, R, T, U = distance_sums(X, block_elements)
    m = float(n - 1)
    rows = max(1, block_elements // max(n * d, 1))
    for s in range(0, n, rows):
        block = slice(s, min(s + rows, n))
        dist = np.abs(X[block, None, :] - X[None, :, :])  # (rows, n, d)
        distT = dist.transpose(0, 2, 1)
        Q = distT @ dist
        S = distT @ r
        ri, Ri = r[block], R[None, :] - 2.0 * r[block]
        U_i = U - ri[:, :, None] * ri[:, None, :] - S - S.transpose(0, 2, 1) + Q
        N = (T - 2.0 * Q) - (2.0 / m) * U_i + Ri[:, :, None] * Ri[:, None, :] / (m * m)
        yield block, dcor_from_centred(N)


def dcor_jackknife_sigma(X, block_elements: int = BLOCK_ELEMENTS) -> np.ndarray:
    """Delete-one jackknife standard deviation of every pairwise distance correlation of X (d x d,
    diagonal 0): sqrt((n - 1)/n * sum_i (dCor_(-i) - mean)^2), from ``leave_one_out_dcor``.

    The calibrated constraints' spread of the dCor coefficients (docs/method.md section 2.13): a
    bootstrap would cost O(B n^2 d^2), B times the from-scratch matrix, and a resample's repeated
    events (distance 0 to their copies) shift dCor itself; the jackknife costs about two from-scratch
    computations and sees no repeated event."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    s1, s2 = np.zeros((d, d)), np.zeros((d, d))
    shift = None  # sums of the deviations from the first leave-one-out matrix: no cancellation
    for _, C in leave_one_out_dcor(X, block_elements):
        shift = C[0].copy() if shift is None else shift
        dev = C - shift
        s1 += dev.sum(axis=0)
        s2 += np.einsum("bjk,bjk->jk", dev, dev)
    var = (n - 1) / n * np.maximum(s2 - s1 * s1 / n, 0.0)
    sigma = np.sqrt(var)
    np.fill_diagonal(sigma, 0.0)
    return sigma
