"""Distance correlation (Szekely, Rizzo and Bakirov 2007) as the attack's correlation constraint.

``use_disco`` (SPEC section 2) replaces the Pearson matrix by the matrix of pairwise feature
distance correlations dCor(x_j, x_k), V-statistic, the value of ``dcor.distance_correlation``.

Notation, per feature j: a^j_ab = |x_aj - x_bj|, row sums r^j_a = sum_b a^j_ab, grand sum
R_j = sum_a r^j_a; per feature pair (j, k): T_jk = sum_ab a^j_ab a^k_ab and U_jk = sum_a r^j_a r^k_a.
Double centring is the projection J = I - 11^T/n on both sides, so

    N_jk = n^2 dCov^2(x_j, x_k) = T_jk - (2/n) U_jk + R_j R_k / n^2,
    dCor(x_j, x_k) = sqrt(N_jk / sqrt(N_jj N_kk))   (0 when N_jj N_kk = 0; clipped at 0).

Moving one value x_ij -> x_ij + D changes row and column i of feature j's distance matrix only:
a^j_ib changes by delta_b = |x_ij + D - x_bj| - |x_ij - x_bj| (b != i). Then, with Delta = sum delta_b,
r^j_b += delta_b (b != i), r^j_i += Delta, R_j += 2 Delta, and for k != j
T_jk += 2 sum_b delta_b a^k_ib, U_jk += sum_{b != i} delta_b r^k_b + Delta r^k_i, while
T_jj += 2 sum_b delta_b (2 a^j_ib + delta_b), U_jj += 2 sum_{b != i} delta_b r^j_b +
sum delta_b^2 + 2 r^j_i Delta + Delta^2. Every term is a sum over n events: an exact update costs
O(n) per feature pair and O(n d) per moved value, and the state is O(n d + d^2) (the values, the
row sums, T, U, R). No n x n matrix is ever built except block-wise in the from-scratch
recomputation (``distance_sums``), which bounds accumulated rounding once per iteration.

``DiscoAttack`` is the attack of ``conservattack.attacks`` with these statistics in place of the
Pearson ones (numpy engine; the compiled engines implement Pearson only).
"""

from __future__ import annotations

import time

import numpy as np

from .attacks import _ConservAttack, candidate_cost
from .metrics import relative_frobenius
from .params import ParameterError

# Elements of the largest temporary (block of distances or of candidate deltas): 2^22 doubles = 32 MiB.
BLOCK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------------------------
# From scratch
# --------------------------------------------------------------------------------------------
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
    return _dcor_from_centred(N)


def _dcor_from_centred(N: np.ndarray) -> np.ndarray:
    var = np.diag(N).copy()
    denom = np.sqrt(np.outer(var, var))
    with np.errstate(invalid="ignore", divide="ignore"):
        C2 = np.where(denom > 0, N / np.where(denom > 0, denom, 1.0), 0.0)
    C = np.sqrt(np.maximum(C2, 0.0))
    idx = np.arange(len(var))
    C[idx, idx] = np.where(var > 0, 1.0, 0.0)
    return C


def distance_correlation_matrix(X, block_elements: int = BLOCK_ELEMENTS) -> np.ndarray:
    """Matrix of pairwise distance correlations of the columns of X (V-statistic, exponent 1):
    entry (j, k) equals ``dcor.distance_correlation(X[:, j], X[:, k])``. O(n^2 d^2) time."""
    r, R, T, U = distance_sums(X, block_elements)
    return dcor_from_sums(T, U, R, len(r))


def relative_dcor_frobenius(X_clean, X_adv) -> float:
    """Relative Frobenius norm ||D_adv - D_clean||_F / ||D_clean||_F of the distance-correlation
    matrices of two sets (the evaluation metric of a ``use_disco`` attack)."""
    return relative_frobenius(distance_correlation_matrix(X_clean), distance_correlation_matrix(X_adv))


# --------------------------------------------------------------------------------------------
# Running statistics
# --------------------------------------------------------------------------------------------
class RunningDistanceCorrelation:
    """Exact running distance-correlation matrix of a set whose values move one at a time.

    Holds its own copy of the values (``X``), the row sums ``r`` (n x d), grand sums ``R`` and the
    pair sums ``T``, ``U`` (d x d); see the module docstring for the update. The interface mirrors
    ``conservattack.stats.RunningPearson``: ``corr``, ``event_terms``, ``candidate_frobenius``,
    ``resync``; ``move`` takes the event index (``move(i, j, x_new)``) because the update needs
    event i's own row sums.
    """

    def __init__(self, X, block_elements: int = BLOCK_ELEMENTS):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < 2:
            raise ValueError(f"X must be a 2-D array with at least 2 events, got shape {X.shape}")
        self.n, self.d = X.shape
        self.block_elements = int(block_elements)
        self.X = X.copy()
        self._set(X)

    def _set(self, X) -> None:
        self.r, self.R, self.T, self.U = distance_sums(X, self.block_elements)
        self._dirty = False  # no move since the last from-scratch computation

    def resync(self, X) -> None:
        """Recompute every sum from scratch from the values ``X`` (n x d), O(n^2 d^2).

        Skipped when no move happened since the last from-scratch computation and ``X`` equals the
        values held: the sums then already are the from-scratch ones."""
        X = np.asarray(X, dtype=np.float64)
        if X.shape != (self.n, self.d):
            raise ValueError(f"X must have shape {(self.n, self.d)}, got {X.shape}")
        if self._dirty or not np.array_equal(X, self.X):
            self.X = X.copy()
            self._set(self.X)

    def centred(self) -> np.ndarray:
        """N = n^2 dCov^2 for every feature pair (d x d)."""
        return self.T - (2.0 / self.n) * self.U + np.outer(self.R, self.R) / float(self.n) ** 2

    def corr(self) -> np.ndarray:
        """Current distance-correlation matrix (d x d)."""
        return _dcor_from_centred(self.centred())

    # -- updates -----------------------------------------------------------------------------
    def move(self, i: int, j: int, x_new: float) -> None:
        """Set feature j of event i to ``x_new`` and update every sum exactly; O(n d)."""
        X = self.X
        x_old = X[i, j]
        if x_new == x_old:
            return
        col = X[:, j]
        delta = np.abs(x_new - col) - np.abs(x_old - col)
        delta[i] = 0.0
        big = delta.sum()
        sq = delta @ delta
        A = np.abs(X[i] - X)  # a^k_ib for every k, current values (row i is 0)
        G = delta @ A
        H = delta @ self.r  # delta_i = 0, so this is the sum over b != i
        ri = self.r[i].copy()
        dT = 2.0 * G
        dT[j] = 4.0 * G[j] + 2.0 * sq
        dU = H + big * ri
        dU[j] = 2.0 * H[j] + sq + 2.0 * ri[j] * big + big * big
        self.T[j, :] += dT
        self.T[:, j] = self.T[j, :]
        self.U[j, :] += dU
        self.U[:, j] = self.U[j, :]
        self.R[j] += 2.0 * big
        self.r[:, j] += delta
        self.r[i, j] += big
        X[i, j] = x_new
        self._dirty = True

    # -- candidates --------------------------------------------------------------------------
    def event_terms(self, x_row: np.ndarray):
        """Per-event terms for ``candidate_frobenius`` (O(n d) once per event).

        ``x_row`` must be the current values of one event of the set. Returns
        (x, A, r_x, M): A[b, k] = |x_k - x_bk|, r_x = A summed over events (the event's own row
        sums), M = [A | r] (n x 2d). The event's own index is not needed: its terms are removed
        analytically (its distance to itself is 0 before a move and |D| after)."""
        x = np.asarray(x_row, dtype=np.float64)
        A = np.abs(x[None, :] - self.X)
        return x, A, A.sum(axis=0), np.concatenate([A, self.r], axis=1)

    def candidate_rows(self, features, deltas, x, A, r_x, M):
        """Row ``features[p]`` of the distance-correlation matrix after moving only that feature
        of the event by ``deltas[p]``, for P (feature, delta) pairs: returns (P x d rows, P bools
        telling a move that would leave the feature constant). O(n d) per pair."""
        features = np.asarray(features, dtype=np.intp).ravel()
        deltas = np.asarray(deltas, dtype=np.float64).ravel()
        n, d = self.n, self.d
        P = features.size
        N = self.centred()
        diagN = np.diag(N)
        rows = np.empty((P, d))
        degenerate = np.empty(P, dtype=bool)
        chunk = max(1, self.block_elements // n)
        XT, AT = self.X.T, A.T
        for s in range(0, P, chunk):
            f, D = features[s : s + chunk], deltas[s : s + chunk]
            m = f.size
            xn = x[f] + D
            # delta_b for b = every event, including the event itself (its term is |D|, removed below)
            delta = np.abs(xn[:, None] - XT[f]) - AT[f]
            absD = np.abs(D)
            big = delta.sum(axis=1) - absD  # Delta
            sq = np.einsum("pb,pb->p", delta, delta) - D * D
            GH = delta @ M  # (m, 2d): sums of delta_b a^k_ib and of delta_b r^k_b
            G, H = GH[:, :d], GH[:, d:] - absD[:, None] * r_x[None, :]  # H over b != i
            dN = 2.0 * G - (2.0 / n) * (H + big[:, None] * r_x[None, :]) + (2.0 / n**2) * big[:, None] * self.R[None, :]
            p = np.arange(m)
            Gj, Hj, rj, Rj = G[p, f], H[p, f], r_x[f], self.R[f]
            dU_jj = 2.0 * Hj + sq + 2.0 * rj * big + big * big
            dN[p, f] = 4.0 * Gj + 2.0 * sq - (2.0 / n) * dU_jj + (4.0 * big * Rj + 4.0 * big * big) / n**2
            Nrow = N[f] + dN
            var_j = Nrow[p, f]
            degenerate[s : s + m] = var_j <= 0.0
            with np.errstate(invalid="ignore", divide="ignore"):
                denom = np.sqrt(np.maximum(var_j, 0.0)[:, None] * diagN[None, :])
                C2 = np.where(denom > 0, Nrow / np.where(denom > 0, denom, 1.0), 0.0)
            row = np.sqrt(np.maximum(C2, 0.0))
            row[p, f] = 1.0
            rows[s : s + m] = row
        return rows, degenerate

    def candidate_frobenius(self, deltas, x, A, r_x, M) -> np.ndarray:
        """||D' - D||_F when only feature j of the event moves by ``deltas[j, k]`` (d x K), with
        D the current distance-correlation matrix; only row and column j change. O(n d) per
        candidate. A move that would leave feature j constant gets +inf (never admissible)."""
        deltas = np.asarray(deltas, dtype=np.float64)
        d, K = deltas.shape
        features = np.repeat(np.arange(d), K)
        rows, degenerate = self.candidate_rows(features, deltas.ravel(), x, A, r_x, M)
        C = self.corr()
        diff = rows - C[features]
        diff[np.arange(features.size), features] = 0.0
        fn = np.sqrt(2.0 * np.einsum("pk,pk->p", diff, diff))
        return np.where(degenerate, np.inf, fn).reshape(d, K)


# --------------------------------------------------------------------------------------------
# The DisCo-constrained attack
# --------------------------------------------------------------------------------------------
DISCO_ENGINES = ("auto", "numpy", "naive")


class DiscoAttack(_ConservAttack):
    """CONSERVAttack with the distance-correlation matrix in place of the Pearson matrix.

    The per-event loop of ``_ConservAttack`` (numpy engine) is reused unchanged: the running
    statistics object it calls ``pearson`` is a ``RunningDistanceCorrelation`` here, whose
    ``event_terms``/``candidate_frobenius`` have the same shape. ``apply`` passes the event index
    to the update, the clean-cost of ``optimize_already_fooled`` uses the clean dCor matrix, and
    each iteration's ``relative_fn`` is the relative Frobenius norm of the dCor matrices, from
    scratch (the Pearson one is kept as ``relative_fn_pearson``).

    Engines: ``numpy`` (``auto`` too) or ``naive`` (every statistic from scratch before each event,
    O(n^2 d^2) per event); the compiled ``cpu``/``cuda`` engines implement Pearson only.
    """

    def __init__(self, model, X, y, mask, params, engine: str = "numpy"):
        if engine not in DISCO_ENGINES:
            raise ParameterError(
                f"attack engine {engine!r} does not support use_disco; expected one of {DISCO_ENGINES} "
                "(the compiled engines implement the Pearson constraint only)"
            )
        super().__init__(model, X, y, mask, params, engine="numpy" if engine == "auto" else engine)
        self.pearson = RunningDistanceCorrelation(self.X)
        self.C_clean = self.pearson.corr()

    def apply(self, i: int, x_new: np.ndarray) -> bool:
        x_row = self.X[i]
        changed = np.flatnonzero(x_new != x_row)
        if changed.size == 0:
            return False
        old_bins = self.hist.bins(x_row[:, None])[changed, 0]
        self.hist.move(changed, old_bins, self.hist.bins(x_new[:, None])[changed, 0])
        for j in changed:  # one feature at a time: each update is exact
            self.pearson.move(i, int(j), float(x_new[j]))
        self.X[i] = self.pearson.X[i]
        return True

    def _clean_cost(self, x: np.ndarray, j: int, values: np.ndarray) -> np.ndarray:
        """alpha * JSD_j(clean, current with x_j -> value) + beta * ||D(after) - D_clean||_F."""
        old_bin = self.hist.bins(x[:, None])[:, 0]
        new_bins = np.repeat(old_bin[:, None], len(values), axis=1)
        new_bins[j] = self.hist.bins(np.broadcast_to(values, (self.d, len(values))))[j]
        jsd = self.hist.candidate_jsd(old_bin, new_bins)[j]
        terms = self.pearson.event_terms(x)
        rows, degenerate = self.pearson.candidate_rows(np.full(len(values), j), values - x[j], *terms)
        C = self.pearson.corr()
        others = np.arange(self.d) != j
        total_now = np.sum((C - self.C_clean) ** 2)
        row_now = np.sum((C[j, others] - self.C_clean[j, others]) ** 2)
        row_new = np.sum((rows[:, others] - self.C_clean[j, others]) ** 2, axis=1)
        fn = np.sqrt(np.maximum(total_now - 2.0 * row_now + 2.0 * row_new, 0.0))
        return candidate_cost(self.p, jsd, np.where(degenerate, np.inf, fn))

    def iterate(self, iteration: int, progress: bool) -> dict:
        h = super().iterate(iteration, progress)
        t0 = time.perf_counter()
        self.pearson.resync(self.X)  # from scratch; the next iteration's resync is then free
        h["relative_fn_pearson"] = h["relative_fn"]
        h["relative_fn"] = relative_frobenius(self.C_clean, self.pearson.corr())
        h["seconds"] += time.perf_counter() - t0
        return h


def attack_state(model, X, y, mask, params, engine: str = "auto") -> DiscoAttack:
    """The attack state ``conservattack.attacks.attack`` uses when ``params.use_disco`` is set."""
    return DiscoAttack(model, X, y, mask, params, engine=engine)
