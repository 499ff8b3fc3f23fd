"""The authors' decision rule, emulated (``rule: reference``; docs/method.md section 8).

The paper's public code (TSaala/CONSERVAttack, commit f16098e) does not apply the rule the paper
states (our exact rule, ``attacks.state``). Its decisions were recorded on CPU for a set of cases
(the shared ``reference-traces``, whose README documents the rule as implemented); this module
reproduces them from the inputs alone, for the paper-faithful studies. What the rule does, in
order:

- **Feature chunks.** With more than two features they are split into ``n_chunks`` consecutive
  chunks (``numpy.array_split``; the authors' ``n_gpus``). Each chunk is worked on by its own
  "worker", which starts every iteration from the same start-of-iteration set, moves only its
  chunk's columns, sees its own moves at once and never the other chunks'; the columns are merged
  at the end of the iteration. Correlations between chunks are never constrained.
- **Gradient.** The sign of the float32 gradient of the binary cross-entropy averaged over
  minibatches of 512 visited events, at the start-of-iteration values cast to float32, with the
  probability clipped to [1e-7, 1 - 1e-7] as Keras does (a clipped, confidently classified event
  has a zero gradient); a gradient >= 0 is direction +1.
- **Candidates** per feature: ``numpy.arange(min_change, room + step, step)`` times the
  direction, with "no move" prepended under ``use_no_change``; the lists of a chunk are stored
  padded in one float32 array (so the deltas are float32), new values are clipped to the clean
  bounds (the grid runs one step past the bound, and its last candidate lands on it).
- **JSD** of a candidate: base 2, between the clean reference (the float32 density histogram of
  the float32-cast clean column) and the current histogram with the event moved, both floored
  at 1e-10 as densities and normalised; no clamp, so a negative divergence (rounding, while a
  histogram equals the reference) gives NaN, which is never admissible.
- **Frobenius quantity** of candidate j of feature f: row and column f of the chunk's correlation
  matrix recomputed by a rank-one style update as if every chunk feature moved to its own
  candidate j at once, with a ddof-1 covariance over ddof-0 standard deviations, absolute and
  against the current matrix (so even "no move" scores about sqrt(2 sum_l C_fl^2 - 1) / (n - 1)).
- **Choice** per feature, independently: the admissible candidate of least cost, first index on
  ties (among the moves only, with ``use_no_change``); if none, index 0: no move, or without
  ``use_no_change`` the +-``min_change`` move, applied although inadmissible. The chunk's
  choices are applied together, the joint move never checked.
- **Fooled**: predicted class 1 when p > 0.5 (strict).

Everything is computed in the data's own dtype where the authors' code does (float32 or float64
sets stay so), with the same array layouts and numpy reductions, so that sums run in the same
order and the decisions, values and reported metrics are the recorded ones to the bit.
Per visit this costs a histogram and a covariance of the chunk over all events, O(n c^2): the
authors' cost.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from .inference import events_tensor, model_device
from .params import ParameterError

MINIBATCH = 512  # events per gradient minibatch
KERAS_EPSILON = 1e-7  # Keras's clipping of probabilities in the cross-entropy
DENSITY_FLOOR = 1e-10  # floor of the densities (and their mixture) in the JSD
EDGE_MARGIN = 1e-6  # a value is binned after clipping to [E_0, E_nb - EDGE_MARGIN]
VARIANCE_FLOOR = 1e-10  # added under the square roots of the Frobenius quantity
DENOMINATOR_FLOOR = 1e-10  # added to its correlation denominators


def feature_chunks(d: int, n_chunks: int) -> list[np.ndarray]:
    """The features of each worker: ``n_chunks`` consecutive chunks, one chunk when d <= 2."""
    return np.array_split(np.arange(d), n_chunks) if d > 2 else [np.arange(d)]


def gradient_signs(model: torch.nn.Module, X, y, minibatch: int = MINIBATCH) -> np.ndarray:
    """+1 / -1 per event and feature: the sign of the float32 gradient of the minibatch-mean binary
    cross-entropy with Keras's clipping of the probability, a zero gradient counting as +1."""
    X32 = np.asarray(X, dtype=np.float32)
    y32 = np.asarray(y, dtype=np.float32)
    signs = np.empty(X32.shape, dtype=np.int8)
    device = model_device(model)
    for start in range(0, len(X32), minibatch):
        x = events_tensor(X32[start : start + minibatch], torch.float32, device).requires_grad_(True)
        target = torch.as_tensor(y32[start : start + minibatch], device=device)
        p = model(x).reshape(-1)
        # torch.clamp passes the gradient where min <= p <= max, as TensorFlow's clip_by_value does
        p = torch.clamp(p, KERAS_EPSILON, 1.0 - KERAS_EPSILON)
        loss = -(target * torch.log(p) + (1.0 - target) * torch.log(1.0 - p)).mean()
        (grad,) = torch.autograd.grad(loss, x)
        signs[start : start + minibatch] = np.where(grad.cpu().numpy() >= 0, 1, -1)
    return signs


def predicted_class(model: torch.nn.Module, X) -> np.ndarray:
    """1 where P(class 1) > 0.5 (strictly), evaluated in float32."""
    with torch.no_grad():
        p = model(events_tensor(np.asarray(X, dtype=np.float32), torch.float32, model_device(model)))
    return (p.reshape(-1).cpu().numpy() > 0.5).astype(np.int64)


def reference_histograms(X_clean, edges) -> np.ndarray:
    """(bins, d) float32: each feature's density histogram of the float32-cast clean column (a
    value the cast pushes out of the range is missing from it)."""
    d, nb = edges.shape[0], edges.shape[1] - 1
    out = np.empty((nb, d), dtype=np.float32)
    X32 = np.asarray(X_clean, dtype=np.float32)
    for f in range(d):
        out[:, f] = np.histogram(X32[:, f], bins=edges[f], density=True)[0]
    return out


def draw_count(p) -> int:
    """Uniforms one visit draws per feature: ``num_candidates`` in random mode, 2 under
    ``randomize_step`` (the step's factor, then min_change's), else none."""
    if p.num_candidates is not None:
        return int(p.num_candidates)
    return 2 if p.randomize_step else 0


def visit_draws(rng, p, visits: int, c: int) -> np.ndarray:
    """(visits, c, draw_count) uniforms of one worker's visits, in visit then feature order (the
    order in which the candidate lists are made), from the attack's generator."""
    return rng.random((visits, c, draw_count(p)))


def candidate_deltas(v, directions, lo, hi, p, draws):
    """The chunk's candidate deltas (c, C) float32, padded with 0.0, and which are in a list.

    Grid mode: ``arange(min_change, room + step, step)`` times the direction, with ``step`` and
    ``min_change`` each scaled by U(1 - f, 1 + f) under ``randomize_step`` (step first); random
    mode: ``num_candidates`` draws U(min_change, hi - v) times the direction (the authors' range,
    measured to the upper bound in both directions; no jitter). ``p``: AttackParams; ``draws``:
    (c, draw_count(p)) uniforms of this visit (``visit_draws``)."""
    lists = []
    for k in range(len(v)):
        if p.num_candidates is not None:
            # low + (high - low) u, as CuPy draws it: also when high < low (a value near the upper bound)
            moves = (p.min_change + (hi[k] - v[k] - p.min_change) * draws[k]) * directions[k]
        else:
            step, min_change = p.step, p.min_change
            if p.randomize_step:
                low, high = 1 - p.random_step_frac, 1 + p.random_step_frac
                step = step * (low + (high - low) * draws[k, 0])
                min_change = min_change * (low + (high - low) * draws[k, 1])
            room = hi[k] - v[k] if directions[k] > 0 else v[k] - lo[k]
            moves = np.arange(min_change, room + step, step) * directions[k]
        lists.append(np.concatenate([np.array([0.0]), moves]) if p.use_no_change else moves)
    width = max(len(m) for m in lists)
    deltas = np.zeros((len(v), width), dtype=np.float32)
    in_list = np.zeros((len(v), width), dtype=bool)
    for k, moves in enumerate(lists):
        deltas[k, : len(moves)] = moves
        in_list[k, : len(moves)] = True
    return deltas, in_list


def normalised_reference(reference_T) -> np.ndarray:
    """(c, bins) float32: the reference densities floored and normalised, as the JSD uses them
    (computed on the transposed view, as the authors' code has it, so its sums run in their order)."""
    p = np.maximum(reference_T, DENSITY_FLOOR)
    return p / np.sum(p, axis=1, keepdims=True)


def histogram_counts(S, edges) -> np.ndarray:
    """(c, bins) int32: the counts of the chunk columns ``S``, recovered exactly from their density
    histograms as the authors' code makes them."""
    n, c = S.shape
    current = np.stack([np.histogram(S[:, k], bins=edges[k], density=True)[0] for k in range(c)])
    width = edges[:, 1] - edges[:, 0]
    return np.round(current * n * width[:, None]).astype(np.int32)


def bins_of(values, edges) -> np.ndarray:
    """Bin index of each value (rows: the chunk features), after clipping to [E_0, E_nb - EDGE_MARGIN]."""
    nb = edges.shape[1] - 1
    clipped = np.clip(values, edges[:, 0:1], edges[:, -1:] - EDGE_MARGIN)
    return np.clip(np.sum(clipped[..., None] >= edges[:, None, :], axis=2) - 1, 0, nb - 1)


def jsd_of_counts(p, counts, n: int, edges) -> np.ndarray:
    """(c, C) JSD of the histograms ``counts`` ((c, C, bins) int32) against ``p`` (``normalised_reference``),
    NaN where the divergence is negative. A row's value depends on that row alone."""
    width = edges[:, 1] - edges[:, 0]
    q = counts / (n * width[:, None, None])
    q = np.maximum(q, DENSITY_FLOOR)
    q = q / np.sum(q, axis=2, keepdims=True)
    p = p[:, None, :]
    m = np.maximum(0.5 * (p + q), DENSITY_FLOOR)
    with np.errstate(invalid="ignore"):
        return np.sqrt(0.5 * (np.sum(q * np.log2(q / m), axis=2) + np.sum(p * np.log2(p / m), axis=2)))


def candidate_jsd(p, S, edges, new_values, old_values) -> np.ndarray:
    """(c, C) JSD of every candidate (NaN where the divergence is negative): the current density
    histograms of the chunk columns ``S`` with the event moved from ``old_values`` to each of
    ``new_values``, against ``p`` (``normalised_reference``)."""
    c, C = new_values.shape
    counts = histogram_counts(S, edges)
    new_bins, old_bins = bins_of(new_values, edges), bins_of(old_values, edges)
    shifted = np.tile(counts[:, None, :], (1, C, 1)).astype(np.int32)
    rows, cols = np.arange(c)[:, None], np.arange(C)[None, :]
    np.add.at(shifted, (rows, cols, old_bins), -np.ones_like(old_bins, dtype=np.int32))
    np.add.at(shifted, (rows, cols, new_bins), np.ones_like(new_bins, dtype=np.int32))
    return jsd_of_counts(p, shifted, S.shape[0], edges)


def candidate_frobenius(S, e: int, new_values) -> np.ndarray:
    """(c, C) Frobenius quantity of every candidate: for candidate j, every chunk feature at its
    own candidate j; row and column f of the updated correlation matrix against the current one."""
    n, c = S.shape
    C = new_values.shape[1]
    # (1, 1) for a chunk of one feature (numpy gives a scalar; the authors' code never has one)
    corr = np.atleast_2d(np.corrcoef(S, rowvar=False))
    cov = np.atleast_2d(np.cov(S, rowvar=False))
    mean = np.mean(S, axis=0)
    var = np.var(S, axis=0)
    x_old = S[e, :]
    mean_new = mean[:, None] + (new_values - x_old[:, None]) / n
    var_new = var[:, None] + ((new_values - mean_new) ** 2 - (x_old[:, None] - mean[:, None]) ** 2) / (n - 1)
    dev_old = S[e, :] - mean
    dev_new = np.broadcast_to(dev_old[:, None], (c, C)).copy()
    dev_new[np.arange(c), :] = new_values - mean_new  # every feature at its own candidate j
    dev_new_T = dev_new.transpose(1, 0)
    products = (dev_new_T[:, :, None] * dev_new_T[:, None, :]).transpose(1, 0, 2)  # (c, C, c)
    products_old = np.tile((dev_old[:, None] * dev_old[None, :])[:, None, :], (1, C, 1))
    cov_rows = cov[np.arange(c), :][:, None, :] + (products - products_old) / (n - 1)
    std_new = np.sqrt(var_new + VARIANCE_FLOOR)
    std = np.sqrt(var + VARIANCE_FLOOR)
    rho = cov_rows / (std_new[:, :, None] * std[None, None, :] + DENOMINATOR_FLOOR)
    row_diff = rho - corr[np.arange(c), None, :]
    col_diff = rho.transpose(2, 1, 0) - corr[:, None, np.arange(c)]
    squares = np.sum(row_diff**2, axis=2) + np.sum(col_diff**2, axis=2)
    squares -= (rho[np.arange(c), :, np.arange(c)] - corr[np.arange(c), np.arange(c)][:, None]) ** 2
    with np.errstate(invalid="ignore"):
        return np.sqrt(squares)


def choose(jsd, fn, in_list, alpha: float, beta: float, max_jsd: float, max_frob: float, use_no_change: bool):
    """Per chunk feature, the chosen candidate index (module docstring, "Choice")."""
    jsd = np.where(in_list, jsd, np.inf)
    fn = np.where(in_list, fn, np.inf)
    admissible = (jsd <= max_jsd) & (fn <= max_frob)
    cost = alpha * jsd + beta * fn
    first = 1 if use_no_change else 0  # "no move" (index 0) is only the fallback
    best = np.zeros(len(jsd), dtype=np.int64)
    for k in range(len(jsd)):
        options = np.flatnonzero(admissible[k, first:]) + first
        if options.size:
            best[k] = options[np.argmin(cost[k, options])]
    return best, admissible, cost


def visit_event(S, e: int, directions, lo, hi, edges, reference_p, p, draws):
    """One worker's visit of event ``e``: choose the chunk features' moves against the worker's
    columns ``S`` (n x c, the set's dtype) and apply them in place; returns the chosen candidate
    indices and deltas. ``reference_p``: ``normalised_reference`` of the chunk; ``p``: AttackParams;
    ``draws``: this visit's uniforms (``visit_draws``)."""
    v = S[e]
    deltas, in_list = candidate_deltas(v, directions, lo, hi, p, draws)
    if deltas.shape[1] == 0:  # no feature of the chunk has a candidate
        return np.zeros(len(v), dtype=np.int64), np.zeros(len(v), dtype=np.float32)
    new_values = np.clip(v[:, None] + deltas, lo[:, None], hi[:, None])
    old_values = np.broadcast_to(v[:, None], new_values.shape)
    jsd = candidate_jsd(reference_p, S, edges, new_values, old_values)
    fn = candidate_frobenius(S, e, new_values)
    best, _, _ = choose(jsd, fn, in_list, p.alpha, p.beta, p.max_jsd_single_change, p.max_frob_single_change,
                        p.use_no_change)
    change = deltas[np.arange(len(best)), best]
    S[e] = np.clip(S[e] + change, lo, hi)
    return best, change


def reported_metrics(X_clean, X, edges) -> dict:
    """The authors' reported metrics: per-feature JSD (densities of the uncast clean column and of
    the current one, floored, normalised, clamped at 0), the JSD of two 50-bin density histograms
    with their own automatic ranges, and the absolute and relative Frobenius norm of the change of
    the whole correlation matrix."""
    from scipy.spatial.distance import jensenshannon

    d = X.shape[1]
    jsd = np.empty(d)
    jsd50 = np.empty(d)
    for f in range(d):
        p = np.maximum(np.histogram(X_clean[:, f], bins=edges[f], density=True)[0], DENSITY_FLOOR)
        q = np.maximum(np.histogram(X[:, f], bins=edges[f], density=True)[0], DENSITY_FLOOR)
        p, q = p / np.sum(p), q / np.sum(q)
        m = np.maximum(0.5 * (p + q), DENSITY_FLOOR)
        js = 0.5 * (np.sum(p * np.log2(p / m)) + np.sum(q * np.log2(q / m)))
        jsd[f] = math.sqrt(max(js, 0.0))
        jsd50[f] = jensenshannon(np.histogram(X_clean[:, f], bins=50, density=True)[0],
                                 np.histogram(X[:, f], bins=50, density=True)[0], base=2)
    corr_clean = np.corrcoef(X_clean, rowvar=False)
    frob_abs = float(np.linalg.norm(np.corrcoef(X, rowvar=False) - corr_clean, ord="fro"))
    return {"reference_jsd": jsd.tolist(), "reference_jsd50": jsd50.tolist(), "reference_frob_abs": frob_abs,
            "reference_relative_fn": frob_abs / (float(np.linalg.norm(corr_clean, ord="fro")) + 1e-10)}


def cross_chunk_shift(X_clean, X, chunks) -> dict:
    """What the chunks leave unconstrained: the largest change of a Pearson correlation between two
    features of different chunks (``cross_chunk_max_shift``, with the pair and its clean and
    adversarial values), and the largest within a chunk, for comparison (0 with one chunk)."""
    C0, C1 = np.corrcoef(np.asarray(X_clean, np.float64), rowvar=False), np.corrcoef(np.asarray(X, np.float64),
                                                                                      rowvar=False)
    owner = np.empty(C0.shape[0], dtype=np.int64)
    for k, chunk in enumerate(chunks):
        owner[chunk] = k
    shift = np.abs(C1 - C0)
    across = owner[:, None] != owner[None, :]
    out = {"within_chunk_max_shift": float(shift[~across & ~np.eye(len(owner), dtype=bool)].max(initial=0.0))}
    if across.any():
        j, k = np.unravel_index(np.argmax(np.where(across, shift, -1.0)), shift.shape)
        out.update(cross_chunk_max_shift=float(shift[j, k]), cross_chunk_pair=[int(j), int(k)],
                   cross_chunk_clean=float(C0[j, k]), cross_chunk_adversarial=float(C1[j, k]))
    else:
        out["cross_chunk_max_shift"] = 0.0
    return out


class ReferenceAttack:
    """State of one attack under the authors' rule (module docstring): the set in its own dtype,
    the bins and reference histograms, the chunks, and the fooled events (the interface of
    ``attacks.state.AttackState``: ``iterate``, ``X``, ``fooled``, ``fooling_ratio``).

    ``engine``: ``numpy`` (``visit_event``, this module) or ``cpu`` (``engines.reference_cpu``, the
    same decisions compiled; float64 sets only), whose ``run_workers`` the caller passes
    (``attacks.api``; the engine module builds on this one). ``record``: keep every visit's choice in
    ``choices`` (rows of iteration, worker, visit position, event, feature, chosen candidate index,
    its delta), for replaying recorded decisions."""

    def __init__(self, model, X, y, mask, params, record: bool = False, engine: str = "numpy", run_workers=None):
        self.model, self.y, self.mask, self.p = model, y, mask, params
        self.X_clean = X.copy()
        self.X = X.copy()
        self.n, self.d = X.shape
        if not 1 <= params.n_chunks <= self.d:
            raise ParameterError(f"attack parameter 'n_chunks' must be between 1 and the number of features "
                                 f"({self.d}), got {params.n_chunks}")
        if engine == "cpu" and X.dtype != np.float64:
            raise ParameterError(f"attack engine 'cpu' runs the reference rule on float64 sets; got {X.dtype} "
                                 f"(use engine 'numpy' or 'auto')")
        if engine == "cpu" and run_workers is None:
            raise ParameterError("attack engine 'cpu' needs the compiled engine's run_workers "
                                 "(conservattack.attacks.engines.reference_cpu)")
        self.engine, self.run_workers = engine, run_workers
        self.lo, self.hi = X.min(axis=0), X.max(axis=0)
        self.edges = np.stack([np.linspace(self.lo[f], self.hi[f], params.num_bins + 1) for f in range(self.d)])
        self.reference = reference_histograms(X, self.edges)
        self.chunks = feature_chunks(self.d, params.n_chunks)
        # (c, bins) per chunk: from the transposed view of the chunk's columns, as the authors' code has it
        self.reference_p = [normalised_reference(self.reference[:, chunk].T) for chunk in self.chunks]
        self.fooled = np.zeros(self.n, dtype=bool)
        self.rng = np.random.default_rng(params.seed)  # random mode and jitter: per worker, visit, feature
        self.record = record
        self.choices: list[tuple] = []

    @property
    def fooling_ratio(self) -> float:
        targeted = ~self.mask
        return float(self.fooled[targeted].mean()) if targeted.any() else float("nan")

    def iterate(self, iteration: int, progress: bool) -> dict:
        from tqdm.auto import tqdm

        from .metrics import jsd_per_feature, jsd_summary, relative_frobenius_of_sets

        t0 = time.perf_counter()
        visit = np.flatnonzero(~self.mask & ~self.fooled)
        signs = gradient_signs(self.model, self.X[visit], self.y[visit]) if visit.size else None
        start = self.X.copy()
        # every worker starts from the start-of-iteration set, with its own copy of its columns
        workers = [Worker(S=start[:, chunk].copy(), signs=signs[:, chunk] if visit.size else None,
                          draws=visit_draws(self.rng, self.p, visit.size, len(chunk)),
                          edges=self.edges[chunk], lo=self.lo[chunk], hi=self.hi[chunk], reference_p=ref_p,
                          best=np.zeros((visit.size, len(chunk)), np.int64),
                          change=np.zeros((visit.size, len(chunk)), np.float32))
                   for chunk, ref_p in zip(self.chunks, self.reference_p)]
        bar = tqdm(total=visit.size * len(self.chunks), disable=not progress, mininterval=0.5, unit="ev",
                   desc=f"attack iteration {iteration}/{self.p.n_iterations} (reference rule)", leave=False)
        if self.engine == "cpu":
            counters = self.run_workers(workers, visit, self.p, bar.update)
        else:
            counters = {}
            for w in workers:
                for pos, e in enumerate(visit.tolist()):
                    w.best[pos], w.change[pos] = visit_event(w.S, e, w.signs[pos], w.lo, w.hi, w.edges,
                                                             w.reference_p, self.p, w.draws[pos])
                    bar.update(1)
        bar.close()
        merged = start.copy()
        for chunk, w in zip(self.chunks, workers):
            merged[visit[:, None], chunk] = w.S[visit]
        if self.record:
            self._record(iteration, visit, workers)
        self.X = merged
        pred = predicted_class(self.model, self.X)
        self.fooled |= (pred != self.y) & ~self.mask
        jsd = jsd_per_feature(self.X_clean.astype(np.float64), self.X.astype(np.float64), self.p.num_bins)
        return {
            "iteration": iteration,
            "fooling_ratio": self.fooling_ratio,
            **jsd_summary(jsd),
            "relative_fn": relative_frobenius_of_sets(self.X_clean.astype(np.float64), self.X.astype(np.float64)),
            "events_visited": int(visit.size),
            "events_moved": int((self.X[visit] != start[visit]).any(axis=1).sum()) if visit.size else 0,
            **reported_metrics(self.X_clean, self.X, self.edges),
            **cross_chunk_shift(self.X_clean, self.X, self.chunks),
            "reference_engine": self.engine,
            **counters,
            "seconds": time.perf_counter() - t0,
        }

    def _record(self, iteration, visit, workers):
        for worker, (chunk, w) in enumerate(zip(self.chunks, workers)):
            for pos, e in enumerate(visit.tolist()):
                for slot, f in enumerate(chunk.tolist()):
                    self.choices.append((iteration, worker, pos, e, f, int(w.best[pos, slot]),
                                         float(w.change[pos, slot])))


@dataclass
class Worker:
    """One worker's part of an iteration: its columns ``S`` (moved in place), its visits' gradient
    signs and uniforms, its chunk's bins, bounds and reference, and per visit and chunk feature the
    chosen candidate index and delta (filled by the engine)."""

    S: np.ndarray
    signs: np.ndarray
    draws: np.ndarray
    edges: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    reference_p: np.ndarray
    best: np.ndarray
    change: np.ndarray


REFERENCE_ENGINES = ("auto", "cpu", "numpy")


def reference_engine(engine: str, X=None) -> str:
    """The engine a reference-rule attack runs on: ``auto`` -> ``cpu`` (``engines.reference_cpu``)
    for a float64 set, else ``numpy`` (this module); ``cuda`` and ``naive`` implement the exact
    rule only: a ParameterError naming them."""
    if engine not in REFERENCE_ENGINES:
        raise ParameterError(f"attack engine {engine!r} does not run the reference rule; use engine 'auto', 'cpu' "
                             f"or 'numpy' with rule: reference")
    if engine == "auto":
        return "cpu" if X is None or np.asarray(X).dtype == np.float64 else "numpy"
    return engine
