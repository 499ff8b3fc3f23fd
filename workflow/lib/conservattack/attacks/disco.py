"""Distance correlation (Szekely, Rizzo and Bakirov 2007) as the attack's correlation constraint.

``use_disco`` (docs/method.md section 2) replaces the Pearson matrix by the matrix of pairwise feature
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
recomputation (``distance_stats.distance_sums``), which bounds accumulated rounding once per
iteration.

``DiscoAttack`` is the attack of ``conservattack.attacks.state`` with these statistics in place of the
Pearson ones (numpy engine; the compiled engines implement Pearson only).
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from .distance_stats import BLOCK_ELEMENTS, dcor_from_centred, distance_correlation_matrix, distance_sums
from .state import AttackState, candidate_cost
from .metrics import relative_frobenius
from .params import ParameterError
from .running_stats import pearson_matrix


def relative_dcor_frobenius(X_clean, X_adv) -> float:
    """Relative Frobenius norm ||D_adv - D_clean||_F / ||D_clean||_F of the distance-correlation
    matrices of two sets (the evaluation metric of a ``use_disco`` attack)."""
    return relative_frobenius(distance_correlation_matrix(X_clean), distance_correlation_matrix(X_adv))


# --------------------------------------------------------------------------------------------
# Running statistics
# --------------------------------------------------------------------------------------------
class RunningDistanceCorrelation:
    """Exact running distance-correlation matrix of a set whose values move one at a time.

    Holds its own copy of the values (``X``), the row sums ``r`` (n x d), grand sums ``R``, the
    pair sums ``T``, ``U`` (d x d) and, per feature, the events in order of value (``order``,
    ``sorted_values``, d x n); see the module docstring for the update. The interface mirrors
    ``conservattack.attacks.running_stats.RunningPearson``: ``corr``, ``event_terms``, ``candidate_frobenius``,
    ``resync``; ``move`` takes the event index (``move(i, j, x_new)``) because the update needs
    event i's own row sums.

    ``method`` chooses how candidates are evaluated, both exact and O(n d) per candidate at worst:
    - ``walk`` (default, compiled): per feature and direction, one pass over the events on the
      far side of the moved value in order of value, taking every candidate as the pass reaches its
      new value; an event on the near side changes its distance by +|D|, one beyond the new value
      by -|D|, one in between by s (D - 2 u) with u its offset from the old value. So one event
      visit costs O(n d^2 + K d^2) for K candidates per feature instead of O(K n d^2);
    - ``direct``: every candidate's distance changes delta_b formed explicitly and summed with a
      matrix product, O(n d) per candidate; the reference the tests compare ``walk`` with.
    """

    METHODS = ("walk", "direct")

    def __init__(self, X, method: str = "walk", block_elements: int = BLOCK_ELEMENTS):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < 2:
            raise ValueError(f"X must be a 2-D array with at least 2 events, got shape {X.shape}")
        if method not in self.METHODS:
            raise ValueError(f"method must be one of {self.METHODS}, got {method!r}")
        self.n, self.d = X.shape
        self.method = method
        self.block_elements = int(block_elements)
        self.X = X.copy()
        self._set()

    def _set(self) -> None:
        self.r, self.R, self.T, self.U = distance_sums(self.X, self.block_elements)
        self.order = np.ascontiguousarray(np.argsort(self.X, axis=0, kind="stable").T)
        self.sorted_values = np.ascontiguousarray(np.take_along_axis(self.X.T, self.order, axis=1))
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
            self._set()

    def centred(self) -> np.ndarray:
        """N = n^2 dCov^2 for every feature pair (d x d)."""
        return self.T - (2.0 / self.n) * self.U + np.outer(self.R, self.R) / float(self.n) ** 2

    def corr(self) -> np.ndarray:
        """Current distance-correlation matrix (d x d)."""
        return dcor_from_centred(self.centred())

    # -- updates -----------------------------------------------------------------------------
    def move(self, i: int, j: int, x_new: float) -> None:
        """Set feature j of event i to ``x_new`` and update every sum exactly; O(n d)."""
        x = self.X[i].copy()
        x[j] = x_new
        self.move_event(i, x)

    def move_event(self, i: int, x_new) -> None:
        """Set event i to the values ``x_new`` (any number of its features changed) and update
        every sum exactly, all changed features at once; O(n d m) for m changed features.

        With D the n x d matrix of distance changes delta^j_b of row i (zero for unchanged
        features and for b = i), A the old distances of row i, P = D plus the row-sum changes
        Delta_j in row i: T += 2 (D^T A + A^T D + D^T D), U += P^T r + r^T P + P^T P,
        R_j += 2 Delta_j. Applying the features one at a time gives the same sums."""
        X = self.X
        x_old = X[i].copy()
        x_new = np.asarray(x_new, dtype=np.float64)
        J = np.flatnonzero(x_new != x_old)
        if J.size == 0:
            return
        cols = X[:, J]
        delta = np.abs(x_new[J] - cols) - np.abs(x_old[J] - cols)
        delta[i] = 0.0
        big = delta.sum(axis=0)  # Delta_j
        DD = delta.T @ delta
        A = np.abs(x_old - X)  # old distances of row i, every feature (row i is 0)
        G = delta.T @ A  # (m, d)
        H = delta.T @ self.r + big[:, None] * self.r[i][None, :]  # P^T r
        JJ = np.ix_(J, J)
        E = np.zeros((self.d, self.d))
        E[J] = G
        dT = E + E.T
        dT[JJ] += DD
        self.T += 2.0 * dT
        E[J] = H
        dU = E + E.T
        dU[JJ] += DD + np.outer(big, big)
        self.U += dU
        self.R[J] += 2.0 * big
        self.r[:, J] += delta
        self.r[i, J] += big
        for j in J:
            _reposition(self.order[j], self.sorted_values[j], int(i), float(x_old[j]), float(x_new[j]))
        X[i, J] = x_new[J]
        self._dirty = True

    # -- candidates --------------------------------------------------------------------------
    def event_terms(self, x_row: np.ndarray):
        """Per-event terms for ``candidate_frobenius`` (O(n d) once per event): (x, r_x, A, M).

        ``x_row`` must be the current values of one event of the set. A[b, k] = |x_k - x_bk| and
        r_x = A summed over events (the event's own row sums); M = [A | r] (n x 2d) for the
        ``direct`` method, None for ``walk``. The event's own index is not needed: its terms are
        removed analytically (its distance to itself is 0 before a move and |D| after)."""
        x = np.asarray(x_row, dtype=np.float64)
        A = np.abs(x[None, :] - self.X)
        M = np.concatenate([A, self.r], axis=1) if self.method == "direct" else None
        return x, A.sum(axis=0), A, M

    def _sums_direct(self, features, deltas, x, A, M):
        """Per pair p: [sum_b delta_b a^k_ib (d) | sum_b delta_b r^k_b (d) | sum delta | sum delta^2]
        over every event b, the moved event included (its computed delta is |D|)."""
        n, d = self.n, self.d
        out = np.empty((features.size, 2 * d + 2))
        chunk = max(1, self.block_elements // n)
        XT, AT = self.X.T, A.T
        for s in range(0, features.size, chunk):
            f, D = features[s : s + chunk], deltas[s : s + chunk]
            delta = np.abs((x[f] + D)[:, None] - XT[f]) - AT[f]
            out[s : s + f.size, : 2 * d] = delta @ M
            out[s : s + f.size, 2 * d] = delta.sum(axis=1)
            out[s : s + f.size, 2 * d + 1] = np.einsum("pb,pb->p", delta, delta)
        return out

    def _sums_walk(self, features, deltas, x, r_x):
        """``_sums_direct`` by the compiled walk over the events in order of value."""
        sign = np.where(deltas < 0, -1, 1)
        perm = np.lexsort((np.abs(deltas), sign, features))
        out_sorted = np.empty((features.size, 2 * self.d + 2))
        _walk_sums(x, r_x, self.R, self.X, self.r, self.order, self.sorted_values,
                   features[perm].astype(np.int64), deltas[perm], out_sorted)
        out = np.empty_like(out_sorted)
        out[perm] = out_sorted
        return out

    def candidate_rows(self, features, deltas, x, r_x, A=None, M=None):
        """Row ``features[p]`` of the distance-correlation matrix after moving only that feature
        of the event by ``deltas[p]``, for P (feature, delta) pairs: returns (P x d rows, P bools
        telling a move that would leave the feature constant). ``x, r_x, A, M`` come from
        ``event_terms``."""
        features = np.asarray(features, dtype=np.intp).ravel()
        deltas = np.asarray(deltas, dtype=np.float64).ravel()
        n, d = self.n, self.d
        if features.size and (features.min() < 0 or features.max() >= d):
            raise ValueError(f"features must lie in [0, {d}), got {features.min()}..{features.max()}")
        if self.method == "direct":
            sums = self._sums_direct(features, deltas, x, A, M)
        else:
            sums = self._sums_walk(features, deltas, x, r_x)
        # Remove the moved event's own terms: its computed delta is |D|, its a-weights 0.
        absD = np.abs(deltas)
        G = sums[:, :d]
        H = sums[:, d : 2 * d] - absD[:, None] * r_x[None, :]  # sum over b != i of delta_b r^k_b
        big = sums[:, 2 * d] - absD  # Delta
        sq = sums[:, 2 * d + 1] - deltas * deltas
        N = self.centred()
        diagN = np.diag(N)
        R = self.R
        dN = 2.0 * G - (2.0 / n) * (H + big[:, None] * r_x[None, :]) + (2.0 / n**2) * big[:, None] * R[None, :]
        p = np.arange(features.size)
        Gj, Hj, rj, Rj = G[p, features], H[p, features], r_x[features], R[features]
        dU_jj = 2.0 * Hj + sq + 2.0 * rj * big + big * big
        dN[p, features] = 4.0 * Gj + 2.0 * sq - (2.0 / n) * dU_jj + (4.0 * big * Rj + 4.0 * big * big) / n**2
        Nrow = N[features] + dN
        var_j = Nrow[p, features]
        degenerate = var_j <= 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            denom = np.sqrt(np.maximum(var_j, 0.0)[:, None] * diagN[None, :])
            C2 = np.where(denom > 0, Nrow / np.where(denom > 0, denom, 1.0), 0.0)
        rows = np.sqrt(np.maximum(C2, 0.0))
        rows[p, features] = 1.0
        return rows, degenerate

    def candidate_frobenius(self, deltas, x, r_x, A=None, M=None) -> np.ndarray:
        """||D' - D||_F when only feature j of the event moves by ``deltas[j, k]`` (d x K), with
        D the current distance-correlation matrix; only row and column j change. A move that would
        leave feature j constant gets +inf (never admissible). ``x, r_x, A, M`` come from
        ``event_terms``."""
        deltas = np.asarray(deltas, dtype=np.float64)
        d, K = deltas.shape
        features = np.repeat(np.arange(d), K)
        rows, degenerate = self.candidate_rows(features, deltas.ravel(), x, r_x, A, M)
        C = self.corr()
        diff = rows - C[features]
        diff[np.arange(features.size), features] = 0.0
        fn = np.sqrt(2.0 * np.einsum("pk,pk->p", diff, diff))
        return np.where(degenerate, np.inf, fn).reshape(d, K)


@njit(cache=True)
def _reposition(order, values, i, x_old, x_new):
    """Move event i from value x_old to x_new in one feature's value-sorted arrays, in place, O(n)."""
    n = values.size
    p = np.searchsorted(values, x_old)
    while order[p] != i:  # among equal values
        p += 1
    if x_new > x_old:
        while p + 1 < n and values[p + 1] < x_new:
            values[p] = values[p + 1]
            order[p] = order[p + 1]
            p += 1
    else:
        while p > 0 and values[p - 1] > x_new:
            values[p] = values[p - 1]
            order[p] = order[p - 1]
            p -= 1
    values[p] = x_new
    order[p] = i


@njit(cache=True, inline="always")
def _record_sums(q, W, WU, c, su, suu, snapW, snapWU, snapC, snapU, snapUU):
    """Record the walk's running sums for candidate q (``_walk_sums``)."""
    snapW[q] = W
    snapWU[q] = WU
    snapC[q] = c
    snapU[q] = su
    snapUU[q] = suu


@njit(cache=True)
def _walk_sums(x, r_x, R, X, r, order, values, feats, deltas, out):
    """``RunningDistanceCorrelation._sums_walk``: pairs sorted by (feature, sign, |delta|).

    For feature j and direction s the events beyond the old value x_j (s u > 0, u = x_bj - x_j)
    are passed in order of |u|; when the pass reaches a candidate's new value (s u >= |D|), the
    sums over the events in between are recorded for it. An event behind (or at) x_j changes its
    distance by +|D|, one at or beyond the new value by -|D|, one in between by s (D - 2 u)."""
    n, d = X.shape
    P = feats.size
    W = np.empty(2 * d)  # sums of the weights (a^k_ib, r^k_b) over the events passed
    WU = np.empty(2 * d)  # the same weighted by u
    snapW = np.empty((P, 2 * d))
    snapWU = np.empty((P, 2 * d))
    snapC = np.empty(P)
    snapU = np.empty(P)
    snapUU = np.empty(P)
    g0 = 0
    while g0 < P:
        j = feats[g0]
        s = -1 if deltas[g0] < 0.0 else 1
        g1 = g0 + 1
        while g1 < P and feats[g1] == j and (-1 if deltas[g1] < 0.0 else 1) == s:
            g1 += 1
        x0 = x[j]
        vals = values[j]
        od = order[j]
        W[:] = 0.0
        WU[:] = 0.0
        c = 0.0
        su = 0.0
        suu = 0.0
        q = g0
        if s > 0:
            t = np.searchsorted(vals, x0, side="right")
            stop = n
        else:
            t = np.searchsorted(vals, x0, side="left") - 1
            stop = -1
        while t != stop:
            u = vals[t] - x0
            while q < g1 and s * u >= abs(deltas[q]):
                _record_sums(q, W, WU, c, su, suu, snapW, snapWU, snapC, snapU, snapUU)
                q += 1
            b = od[t]
            for m in range(d):
                w = abs(x[m] - X[b, m])
                W[m] += w
                WU[m] += u * w
                w = r[b, m]
                W[d + m] += w
                WU[d + m] += u * w
            c += 1.0
            su += u
            suu += u * u
            t += s
        while q < g1:  # candidates beyond the last event: every event was passed
            _record_sums(q, W, WU, c, su, suu, snapW, snapWU, snapC, snapU, snapUU)
            q += 1
        n_ahead = c
        for q in range(g0, g1):
            D = deltas[q]
            a = abs(D)
            for m in range(2 * d):
                total = r_x[m] if m < d else R[m - d]
                behind = total - W[m]
                beyond = W[m] - snapW[q, m]
                out[q, m] = a * (behind - beyond + snapW[q, m]) - 2.0 * s * snapWU[q, m]
            behind = n - n_ahead
            beyond = n_ahead - snapC[q]
            out[q, 2 * d] = a * (behind - beyond + snapC[q]) - 2.0 * s * snapU[q]
            out[q, 2 * d + 1] = a * a * (behind + beyond) + D * D * snapC[q] - 4.0 * D * snapU[q] + 4.0 * snapUU[q]
        g0 = g1


# --------------------------------------------------------------------------------------------
# The DisCo-constrained attack
# --------------------------------------------------------------------------------------------
DISCO_ENGINES = ("auto", "numpy", "naive")


class DiscoAttack(AttackState):
    """CONSERVAttack with the distance-correlation matrix in place of the Pearson matrix.

    The per-event loop of ``AttackState`` (numpy engine) is reused unchanged: the running
    statistics object it calls ``pearson`` is a ``RunningDistanceCorrelation`` here, whose
    ``event_terms``/``candidate_frobenius`` have the same shape. ``apply`` passes the event index
    to the update, the clean-cost of ``optimize_already_fooled`` uses the clean dCor matrix, and
    each iteration's ``relative_fn`` is the relative Frobenius norm of the dCor matrices, from
    scratch (the Pearson one is kept as ``relative_fn_pearson``). Under ``constraints: calibrated``
    the budgets bound the dCor coefficients (jackknife spread, ``dcor_jackknife_sigma``) and
    ``row_budget_ratio`` scores the dCor row.

    Engines: ``numpy`` (``auto`` too) or ``naive`` (every statistic from scratch before each event,
    O(n^2 d^2) per event); the compiled ``cpu``/``cuda`` engines implement Pearson only.
    """

    def __init__(self, model, X, y, mask, params, engine: str = "numpy", **options):
        engine = disco_engine(engine)
        if engine not in DISCO_ENGINES:
            raise ParameterError(f"unknown attack engine {engine!r} for use_disco; expected one of {DISCO_ENGINES}")
        super().__init__(model, X, y, mask, params, engine=engine, **options)
        self.C_clean_pearson = self.C_clean
        self.pearson = RunningDistanceCorrelation(self.X)
        self.C_clean = self.pearson.corr()

    def apply(self, i: int, x_new: np.ndarray) -> bool:
        x_row = self.X[i]
        changed = np.flatnonzero(x_new != x_row)
        if changed.size == 0:
            return False
        old_bins = self.hist.bins(x_row[:, None])[changed, 0]
        self.hist.move(changed, old_bins, self.hist.bins(x_new[:, None])[changed, 0])
        self.pearson.move_event(i, x_new)  # the joint move, exact
        self.X[i] = self.pearson.X[i]
        return True

    def row_budget_ratio(self, x: np.ndarray, j: int, deltas: np.ndarray) -> np.ndarray:
        """``AttackState.row_budget_ratio`` for the dCor row: the largest |D'_jk - D_clean_jk| /
        budget_jk over k != j if feature j of the event whose current values are ``x`` moved by each
        of ``deltas`` (``candidate_rows``, O(n d) for the feature's candidates together). A move
        that would leave feature j constant gets +inf."""
        rows, degenerate = self.pearson.candidate_rows(np.full(len(deltas), j), deltas,
                                                       *self.pearson.event_terms(x))
        ratio = np.abs(rows - self.C_clean[j][None, :]) / self.budgets.corr[j][None, :]
        ratio[:, j] = 0.0
        return np.where(degenerate, np.inf, ratio.max(axis=1))

    def visit_reference(self, *args, **kwargs) -> int:
        # The per-event matrix products are small (m x n by n x d): with more than one BLAS thread
        # they only contend (several times slower on a loaded machine). threadpoolctl comes with
        # scikit-learn.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return super().visit_reference(*args, **kwargs)

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
        h = super().iterate(iteration, progress)  # its relative_fn is the dCor one (pearson is dCor here)
        t0 = time.perf_counter()
        h["relative_fn_pearson"] = relative_frobenius(self.C_clean_pearson, pearson_matrix(self.X))
        h["seconds"] += time.perf_counter() - t0
        return h


def disco_engine(engine: str) -> str:
    """The engine a ``use_disco`` attack runs on for the requested ``engine``: ``auto`` -> ``numpy``;
    ``numpy`` and ``naive`` as asked; ``cpu`` and ``cuda`` (Pearson only) are a ParameterError.
    Any other name is returned unchanged for ``engines.resolve_engine`` to reject."""
    if engine == "auto":
        return "numpy"
    if engine in ("cpu", "cuda"):
        raise ParameterError(
            f"attack engine {engine!r} does not support use_disco (the compiled engines implement the Pearson "
            f"constraint only); use engine 'auto' or 'numpy' (or 'naive') with use_disco"
        )
    return engine
