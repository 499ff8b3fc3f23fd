"""Exact running statistics for the attack: per-feature histograms and the Pearson matrix.

The attack moves one value at a time. A move touches two bins of one histogram and one row and
column of the correlation matrix, so both are kept as running quantities and updated exactly
(docs/method.md section 2.8) instead of being recomputed. The from-scratch functions here are
the reference the running values are tested against, and are also what the evaluation metrics use.

All statistics are float64. Bins follow ``numpy.histogram`` to the last ulp: ``bin_index`` is the
same computation, so a value on a bin edge lands where numpy puts it. ``bin_of_impl`` is that
computation for one value; it is compiled for the counts (``bin_counts``) and for the CPU and GPU
engines.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.special import rel_entr

LN2 = float(np.log(2.0))


# --------------------------------------------------------------------------------------------
# Binning and Jensen-Shannon distance
# --------------------------------------------------------------------------------------------
def bin_edges(lo: float, hi: float, num_bins: int) -> np.ndarray:
    """Edges of ``num_bins`` equal-width bins over [lo, hi], as ``numpy.histogram`` builds them."""
    if lo == hi:  # numpy widens an empty range the same way
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, num_bins + 1, endpoint=True)


def feature_bin_edges(lo, hi, num_bins: int) -> np.ndarray:
    """``bin_edges`` of every feature, from its bounds ``lo[j]``, ``hi[j]``: shape (d, num_bins + 1)."""
    return np.stack([bin_edges(a, b, num_bins) for a, b in zip(lo, hi)])


def bin_index(values, lo: float, hi: float, num_bins: int) -> np.ndarray:
    """Bin of each value in ``num_bins`` equal-width bins over [lo, hi]; hi falls in the last bin.

    Identical to the bin ``numpy.histogram(values, num_bins, range=(lo, hi))`` assigns (same
    arithmetic, same one-ulp corrections at edges). Values outside [lo, hi] are not allowed.
    """
    edges = bin_edges(lo, hi, num_bins)
    return bin_index_rows(np.asarray(values, np.float64)[None, :], edges[None, :])[0]


def bin_index_rows(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``bin_index`` for many features at once: row r of ``values`` binned with row r of ``edges``."""
    num_bins = edges.shape[1] - 1
    first, last = edges[:, :1], edges[:, -1:]
    idx = ((values - first) * (num_bins / (last - first))).astype(np.intp)
    idx[idx == num_bins] -= 1
    idx[values < np.take_along_axis(edges, idx, axis=1)] -= 1
    idx[(values >= np.take_along_axis(edges, idx + 1, axis=1)) & (idx != num_bins - 1)] += 1
    return idx


def bin_of_impl(v, edges, j, nb):
    """Bin of value v in row j of ``edges`` (``nb`` bins): ``bin_index_rows`` for one value, the
    same arithmetic and one-ulp corrections. Plain Python, compiled for the CPU
    (``compiled_bin_of``) and for the GPU (``engines.cuda``); a product followed by a conversion,
    so no fused multiply-add can change it."""
    first = edges[j, 0]
    last = edges[j, nb]
    idx = int((v - first) * (nb / (last - first)))
    if idx == nb:
        idx -= 1
    if v < edges[j, idx]:
        idx -= 1
    if v >= edges[j, idx + 1] and idx != nb - 1:
        idx += 1
    return idx


compiled_bin_of = njit(cache=True, inline="always")(bin_of_impl)


@njit(cache=True)
def bin_counts(X, edges):
    """Counts (d, bins) of the columns of X (n, d) in their rows of ``edges``: the bins of
    ``bin_index_rows``, counted without its (n, d) arrays of bin indices and corrections.
    Returns None when a value lies outside its feature's edges (or is NaN)."""
    n, d = X.shape
    nb = edges.shape[1] - 1
    counts = np.zeros((d, nb), np.int64)
    for i in range(n):
        for j in range(d):
            v = X[i, j]
            if not (edges[j, 0] <= v <= edges[j, nb]):
                return None
            counts[j, compiled_bin_of(v, edges, j, nb)] += 1
    return counts


def histogram_counts(x, lo: float, hi: float, num_bins: int) -> np.ndarray:
    """Counts of ``x`` in the attack's bins (int64)."""
    return np.bincount(bin_index(x, lo, hi, num_bins), minlength=num_bins).astype(np.int64)


def sequential_row_sums(M) -> np.ndarray:
    """Sums along the last axis, added strictly left to right.

    numpy's ``sum`` adds pairwise and matrix products use BLAS, whose rounding a compiled engine
    cannot reproduce; a left-to-right sum it can, so every engine makes bit-identical decisions.
    """
    M = np.asarray(M, dtype=np.float64)
    return np.cumsum(M, axis=-1)[..., -1]


def js_terms(p, q) -> np.ndarray:
    """Per-bin contribution to 2 * ln(2) * JS divergence: rel_entr(p, m) + rel_entr(q, m), m = (p+q)/2.

    Summing the terms over bins and dividing by 2 ln 2 gives the JS divergence in bits; its square
    root is the Jensen-Shannon distance (scipy's ``jensenshannon(p, q, base=2)``). 0 log 0 = 0.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    m = (p + q) / 2.0
    return rel_entr(p, m) + rel_entr(q, m)


def js_distance_from_sum(term_sum) -> np.ndarray:
    """Jensen-Shannon distance (base 2) from a sum of ``js_terms``; tiny negative rounding -> 0."""
    return np.sqrt(np.maximum(np.asarray(term_sum, dtype=np.float64) / (2.0 * LN2), 0.0))


def js_distance(p, q) -> float:
    """Jensen-Shannon distance, log base 2, between two probability vectors."""
    return float(js_distance_from_sum(js_terms(p, q).sum()))


def js_distance_rows(P, Q) -> np.ndarray:
    """``js_distance`` of each pair of rows of P and Q (one per feature)."""
    return np.array([js_distance(p, q) for p, q in zip(P, Q)], dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Pearson correlation from scratch
# --------------------------------------------------------------------------------------------
def comoment_matrix(X) -> tuple[np.ndarray, np.ndarray]:
    """Column means and co-moment matrix S = (X - mu)^T (X - mu) in float64, exactly symmetric."""
    X = np.asarray(X, dtype=np.float64)
    mu = X.mean(axis=0)
    Xc = X - mu
    S = Xc.T @ Xc
    # numpy computes X^T X with one triangle (syrk), so this is a no-op there; the compiled
    # engines read S by rows where the reference reads columns, which needs the exact symmetry
    return mu, np.triu(S) + np.triu(S, 1).T


def correlation_from_comoments(S: np.ndarray) -> np.ndarray:
    """Pearson matrix from a co-moment matrix; the diagonal is exactly 1."""
    inv = 1.0 / np.sqrt(np.diag(S))
    C = S * inv[:, None] * inv[None, :]
    np.fill_diagonal(C, 1.0)
    return C


def pearson_matrix(X) -> np.ndarray:
    """Pearson correlation matrix of the columns of X (float64)."""
    return correlation_from_comoments(comoment_matrix(X)[1])


# --------------------------------------------------------------------------------------------
# Running statistics
# --------------------------------------------------------------------------------------------
class RunningHistograms:
    """Current per-feature histograms of a set, compared to fixed clean reference histograms.

    Keeps, per feature j and bin b, the count c[j, b], the clean probability P[j, b], the JS term
    t[j, b] = js_terms(P, c/n) and the JS term sum per feature, so that the JS distance after
    moving one value is an O(1) look-up (``candidate_jsd``).
    """

    def __init__(self, X, lo, hi, num_bins: int, reference=None):
        X = np.asarray(X, dtype=np.float64)
        self.n, self.d = X.shape
        self.lo = np.asarray(lo, dtype=np.float64)
        self.hi = np.asarray(hi, dtype=np.float64)
        self.num_bins = int(num_bins)
        self.edges = feature_bin_edges(self.lo, self.hi, self.num_bins)
        self._rows = np.arange(self.d)
        self.counts = self._count(X)
        # The clean reference: by default the histograms of X itself.
        self.P = self.counts / self.n if reference is None else np.asarray(reference, np.float64)
        self._refresh_all()

    # -- bookkeeping -------------------------------------------------------------------------
    def _refresh_all(self) -> None:
        inv_n = 1.0 / self.n
        self.terms = js_terms(self.P, self.counts * inv_n)
        # Term if the bin gained one event (target bin of a move) or lost one (source bin).
        self.terms_plus = js_terms(self.P, (self.counts + 1) * inv_n)
        self.terms_minus = js_terms(self.P, np.maximum(self.counts - 1, 0) * inv_n)
        self.term_sum = sequential_row_sums(self.terms)

    def _refresh_bins(self, rows, bins) -> None:
        """Recompute the JS terms of bins (rows[i], bins[i]) and the term sums of those rows."""
        inv_n = 1.0 / self.n
        p, c = self.P[rows, bins], self.counts[rows, bins]
        self.terms[rows, bins] = js_terms(p, c * inv_n)
        self.terms_plus[rows, bins] = js_terms(p, (c + 1) * inv_n)
        self.terms_minus[rows, bins] = js_terms(p, np.maximum(c - 1, 0) * inv_n)
        # Re-summing the touched rows (O(bins)) keeps the sums free of accumulated rounding.
        self.term_sum[rows] = sequential_row_sums(self.terms[rows])

    def resync(self, X) -> None:
        """Recompute every count from scratch (bounds accumulated error; called per iteration)."""
        self.counts = self._count(np.asarray(X, dtype=np.float64))
        self._refresh_all()

    def _count(self, X) -> np.ndarray:
        # compiled: the bins of bin_index_rows, without its n x d temporaries (0.2 s at n = 250,000
        # and d = 30 in numpy, several times that where fresh memory pages are slow to come by)
        counts = bin_counts(np.ascontiguousarray(X, dtype=np.float64), self.edges)
        if counts is None:
            outside = ~((X >= self.edges[:, 0]) & (X <= self.edges[:, -1])).all(axis=0)
            raise ValueError(f"values outside the histogram range in feature(s) {np.flatnonzero(outside).tolist()}")
        return counts

    # -- queries -----------------------------------------------------------------------------
    def bins(self, values) -> np.ndarray:
        """Bins of ``values`` (d x K): row j binned with feature j's bins."""
        return bin_index_rows(np.asarray(values, np.float64), self.edges)

    def jsd(self) -> np.ndarray:
        """Current JS distance per feature."""
        return js_distance_from_sum(self.term_sum)

    def counted_jsd(self) -> np.ndarray:
        """JS distance per feature between the reference and the counts, formed as
        ``metrics.jsd_per_feature`` forms it (probabilities counts / n, terms summed by numpy), so
        after a ``resync`` it equals ``jsd_per_feature(X_reference, X)`` exactly, without
        binning the reference set again."""
        return js_distance_rows(self.P, self.counts / self.n)

    def candidate_jsd(self, old_bins, new_bins) -> np.ndarray:
        """JS distance of feature j if one value moved from ``old_bins[j]`` to ``new_bins[j, k]``.

        O(1) per candidate: only the source and target bins' terms change.
        """
        r = self._rows
        base = self.term_sum - self.terms[r, old_bins] + self.terms_minus[r, old_bins]
        rr = r[:, None]
        s = base[:, None] + self.terms_plus[rr, new_bins] - self.terms[rr, new_bins]
        s = np.where(new_bins == old_bins[:, None], self.term_sum[:, None], s)
        return js_distance_from_sum(s)

    # -- updates -----------------------------------------------------------------------------
    def move(self, features, old_bins, new_bins) -> None:
        """Move one value of each of ``features`` (distinct) from ``old_bins`` to ``new_bins``."""
        features, old_bins, new_bins = map(np.asarray, (features, old_bins, new_bins))
        keep = old_bins != new_bins
        features, old_bins, new_bins = features[keep], old_bins[keep], new_bins[keep]
        if features.size == 0:
            return
        self.counts[features, old_bins] -= 1
        self.counts[features, new_bins] += 1
        self._refresh_bins(np.concatenate([features, features]), np.concatenate([old_bins, new_bins]))


class RunningPearson:
    """Exact running means and co-moments of a set whose values move one at a time.

    Update for x_old -> x_new = x_old + D of feature j of one event (docs/method.md section 2):
    mu_j' = mu_j + D/n; S_jj' = S_jj + D (x_new - mu_j' + x_old - mu_j); S_jk' = S_jk + D (x_k - mu_k).
    """

    def __init__(self, X):
        X = np.asarray(X, dtype=np.float64)
        self.n, self.d = X.shape
        self.mu, self.S = comoment_matrix(X)
        self._off_diag = ~np.eye(self.d, dtype=bool)

    def resync(self, X) -> None:
        """Recompute means and co-moments from scratch."""
        self.mu, self.S = comoment_matrix(X)

    def corr(self) -> np.ndarray:
        return correlation_from_comoments(self.S)

    def move(self, x_row: np.ndarray, j: int, x_new: float) -> None:
        """Set feature j of the event whose CURRENT values are ``x_row`` to ``x_new``.

        ``x_row`` is updated in place, so a joint move of several features is a sequence of calls
        on the same row, each exact.
        """
        x_old = x_row[j]
        delta = x_new - x_old
        if delta == 0.0:
            return
        mu_old = self.mu[j]
        mu_new = mu_old + delta / self.n
        e = x_row - self.mu  # deviations at the old means; e[j] is overwritten below
        row = self.S[j] + delta * e
        row[j] = self.S[j, j] + delta * (x_new - mu_new + x_old - mu_old)
        self.S[j, :] = row
        self.S[:, j] = row
        self.mu[j] = mu_new
        x_row[j] = x_new

    def event_terms(self, x_row: np.ndarray):
        """Per-feature sums needed by ``candidate_frobenius`` for one event (O(d^2) once per event).

        With u_k = S_kk^-1/2 and e = x - mu, for every feature j (sums over k != j):
        A_j = sum u_k^2 S_jk^2, B_j = sum u_k^2 S_jk e_k, E_j = sum u_k^2 e_k^2.
        """
        S = self.S
        u2 = 1.0 / np.diag(S)
        e = x_row - self.mu
        S_off = np.where(self._off_diag, S, 0.0)
        A = sequential_row_sums(S_off * S_off * u2)
        B = sequential_row_sums(S_off * (u2 * e))
        w = u2 * e * e
        E = sequential_row_sums(w) - w
        return e, A, B, E

    def candidate_frobenius(self, deltas, e, A, B, E) -> np.ndarray:
        """||C' - C||_F when only feature j of the event moves by ``deltas[j, k]`` (O(1) each).

        Only row and column j of C change: C'_jk - C_jk = u_k (S_jk (r' - r) + D e_k r') with
        r = S_jj^-1/2 and r' the same after the move, so the squared norm is the quadratic form
        2 [(r'-r)^2 A_j + 2 (r'-r) r' D B_j + r'^2 D^2 E_j]. r' - r is formed without cancellation.
        ``e, A, B, E`` come from ``event_terms``; rows of ``deltas`` are features.
        A move that would leave feature j constant (S_jj' <= 0) gets +inf: it is never admissible.
        """
        D = np.asarray(deltas, dtype=np.float64)
        col = lambda v: np.asarray(v)[:, None]  # noqa: E731  (per-feature value against candidates)
        Sjj = col(np.diag(self.S))
        dS = D * (2.0 * col(e) + D * (1.0 - 1.0 / self.n))  # S_jj' - S_jj
        degenerate = Sjj + dS <= 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            sq_old, sq_new = np.sqrt(Sjj), np.sqrt(Sjj + dS)
            r_new = 1.0 / sq_new
            dr = -dS / (sq_old * sq_new * (sq_old + sq_new))
            rD = r_new * D
            q = dr * dr * col(A) + 2.0 * dr * r_new * D * col(B) + rD * rD * col(E)
        return np.where(degenerate, np.inf, np.sqrt(2.0 * np.maximum(q, 0.0)))
