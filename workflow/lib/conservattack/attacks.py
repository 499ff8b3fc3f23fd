"""CONSERVAttack (SPEC section 2): sign-gradient moves that keep marginals and correlations.

``attack(model, X, y, params)`` is the public entry point. The running statistics of
``conservattack.stats`` make a candidate's JSD an O(1) look-up and its Frobenius norm an O(1)
closed form after O(d^2) work per event, so one event visit costs O(d^2 + d K) for K candidates.

Choices where SPEC section 2 is silent (also listed in the README):
- ``fooled`` starts all False: an event counts as fooled only after a re-evaluation (step 3), so an
  event misclassified before the attack is still visited in the first iteration.
- Masked events are never moved and never counted as fooled or targeted.
- Random mode: one ``numpy.random.default_rng(seed)`` per attack; per visited event, in visit
  order, first the jitter factors (d draws, if ``randomize_step``), then a (d, N) array of
  uniforms. A feature whose room to its bound is below ``min_change`` has no candidate. Candidates
  are sorted by |move| so that ties go to the smaller move, as in grid mode.
- Every candidate value is clipped to [lo_j, hi_j]; the statistics use the clipped value.
- A move that would leave a feature constant is never admissible (its Frobenius norm is +inf).
- Constant features of X are frozen: the attack, its statistics and its relative Frobenius norm
  use the other features; their per-feature JSD is reported as 0.

Engines (``attack(..., engine=...)``), all with the same decisions:
- ``numpy``: the reference, vectorised per event over features and candidates;
- ``cpu``: the same loop compiled with numba (``conservattack.kernels``), bit-identical to numpy;
- ``naive``: recomputes histograms and co-moments from scratch before every event, the cost of the
  paper's reference code (O(n d^2) per event); a baseline for benchmarks and a second oracle;
- ``cuda``: the same loop on an NVIDIA GPU (``conservattack.cuda_engine``); with ``batch_events``
  B > 1 it runs the approximate batched mode instead (B events against the same statistics);
- ``auto``: ``cpu``, also on a GPU machine: measured on an H100, the exact GPU mode is slower
  than the compiled CPU loop (README "Performance"). ``optimize_already_fooled``
  always runs on the numpy engine.
The model is evaluated where it lives: move it to the GPU yourself for GPU gradients.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import torch
from tqdm.auto import tqdm

from .inference import logit_head, loss_gradient_sign, predict_proba
from .metrics import relative_frobenius
from .params import AttackParams, ParameterError
from .stats import RunningHistograms, RunningPearson


ENGINES = ("auto", "cpu", "cuda", "numpy", "naive")


@dataclass
class AttackResult:
    """Outcome of one attack.

    X_adv : perturbed set, same shape and order as the input.
    fooled : events whose predicted label differs from the true one after some iteration.
    mask : events that were excluded from the attack (never moved, never targeted).
    history : one dict per iteration: iteration, fooling_ratio, jsd (per feature), jsd_mean,
        jsd_median, jsd_max, relative_fn, events_visited, events_moved, seconds (of which
        visit_seconds in the per-event loop and model_seconds in the gradients and the evaluation;
        the batched GPU mode adds gpu_wait_seconds and host_apply_seconds within the visit).
    """

    X_adv: np.ndarray
    fooled: np.ndarray
    mask: np.ndarray
    params: AttackParams
    history: list[dict] = field(default_factory=list)

    @property
    def fooling_ratio(self) -> float:
        targeted = ~self.mask
        return float(self.fooled[targeted].mean()) if targeted.any() else float("nan")


def _as_params(params) -> AttackParams:
    if isinstance(params, AttackParams):
        return params
    if isinstance(params, Mapping):
        return AttackParams.from_config(params)
    raise ParameterError(f"params must be an AttackParams or a mapping, got {type(params).__name__}")


def _validate(model, X, y, mask):
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (events x features), got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"X must hold real numbers, got dtype {X.dtype}")
    X = X.astype(np.float64)  # always a copy: the caller's array is never modified
    n, d = X.shape
    if n < 2 or d < 1:
        raise ValueError(f"X needs at least 2 events and 1 feature, got shape {X.shape}")
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(
            f"X contains {int(bad.sum())} non-finite value(s) (NaN or inf); first at event {i}, "
            f"feature {j}: {X[i, j]!r}"
        )
    if (X.min(axis=0) == X.max(axis=0)).all():
        raise ValueError("every feature of X is constant: there is nothing the attack could move")
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match X, got {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels y must be 0 or 1, found {np.unique(y[~np.isin(y, (0, 1))])[:5]}")
    y = y.astype(np.int64)
    if mask is None:
        mask = np.zeros(n, dtype=bool)
    else:
        mask = np.asarray(mask)
        if mask.shape != (n,) or mask.dtype != bool:
            raise ValueError(f"mask must be a boolean array of shape ({n},), got {mask.dtype} {mask.shape}")
        mask = mask.copy()
    return X, y, mask


class _ConservAttack:
    """State of one attack: the set, its running statistics and the per-event move selection."""

    def __init__(self, model, X, y, mask, params: AttackParams, engine: str = "numpy", batch_events: int = 0):
        self.model, self.X, self.y, self.mask, self.p = model, X, y, mask, params
        self.engine = engine
        self.batch_events = batch_events
        self.n, self.d = X.shape
        self.X_clean = X.copy()
        self.lo, self.hi = X.min(axis=0), X.max(axis=0)
        self.hist = RunningHistograms(X, self.lo, self.hi, params.num_bins)
        self.pearson = RunningPearson(X)
        self.C_clean = self.pearson.corr()
        self.rng = np.random.default_rng(params.seed)
        self.fooled = np.zeros(self.n, dtype=bool)
        self.phase_seconds = {}  # sub-phases of the last iteration's visit an engine reports (batched GPU mode)

    # -- candidates --------------------------------------------------------------------------
    def _step_sizes(self):
        p = self.p
        if p.randomize_step:
            jit = self.rng.uniform(1.0 - p.random_step_frac, 1.0 + p.random_step_frac, size=self.d)
            return p.min_change * jit, p.step * jit
        return np.full(self.d, p.min_change), np.full(self.d, p.step)

    def candidates(self, x: np.ndarray, s: np.ndarray):
        """Candidate moves (d x K, rows ordered by |move|) and which of them exist."""
        mc, st = self._step_sizes()
        room = np.where(s > 0, self.hi - x, x - self.lo)
        if self.p.random_mode:
            u = self.rng.random((self.d, self.p.num_candidates))
            has = room >= mc
            D = s[:, None] * (mc[:, None] + u * (room - mc)[:, None])
            D = np.take_along_axis(D, np.argsort(np.abs(D), axis=1, kind="stable"), axis=1)
            valid = np.broadcast_to(has[:, None], D.shape)
        else:
            # Upper estimate of the grid length; the literal bound check below decides. Moves
            # grow monotonically with k, so the valid candidates form a prefix.
            kmax = int(np.max(np.floor(np.maximum(room - mc, -1.0) / st))) + 2
            k = np.arange(max(kmax, 1), dtype=np.float64)
            D = s[:, None] * (mc[:, None] + k[None, :] * st[:, None])
            xn = x[:, None] + D
            valid = (xn >= self.lo[:, None]) & (xn <= self.hi[:, None])
        return D, valid

    # -- one event ---------------------------------------------------------------------------
    def choose(self, x: np.ndarray, s: np.ndarray):
        """New values of the event's features (SPEC step 2), all against the current statistics."""
        p = self.p
        D, valid = self.candidates(x, s)
        xn = np.clip(x[:, None] + D, self.lo[:, None], self.hi[:, None])
        old_bins = self.hist.bins(x[:, None])[:, 0]
        jsd = self.hist.candidate_jsd(old_bins, self.hist.bins(xn))
        e, A, B, E = self.pearson.event_terms(x)
        fn = self.pearson.candidate_frobenius(xn - x[:, None], e, A, B, E)
        cost = candidate_cost(p, jsd, fn)
        admissible = valid & (jsd <= p.max_jsd_single_change) & (fn <= p.max_frob_single_change)
        # argmin takes the first minimum: candidates are ordered by |move|, so ties go to the smaller.
        best = np.argmin(np.where(admissible, cost, np.inf), axis=1)
        move = admissible.any(axis=1)
        if not p.use_no_change:
            usable = valid & np.isfinite(cost)
            fallback = np.argmin(np.where(usable, cost, np.inf), axis=1)
            best = np.where(move, best, fallback)
            move = usable.any(axis=1)
        rows = np.arange(self.d)
        return np.where(move, xn[rows, best], x)

    def apply(self, i: int, x_new: np.ndarray) -> bool:
        """Move event i to ``x_new`` and update the running statistics exactly."""
        x_row = self.X[i].copy()
        changed = np.flatnonzero(x_new != x_row)
        if changed.size == 0:
            return False
        old_bins = self.hist.bins(x_row[:, None])[changed, 0]
        self.hist.move(changed, old_bins, self.hist.bins(x_new[:, None])[changed, 0])
        for j in changed:  # one feature at a time: each co-moment update is exact
            self.pearson.move(x_row, j, x_new[j])
        self.X[i] = x_row
        return True

    def pull_back(self, i: int) -> bool:
        """``optimize_already_fooled``: move fooled event i toward its clean values, feature by
        feature, when it stays fooled and its cost against the CLEAN statistics strictly drops."""
        p, x_clean = self.p, self.X_clean[i]
        size = p.step if p.step > 0 else p.min_change
        moved = False
        for j in np.flatnonzero(self.X[i] != x_clean):
            x = self.X[i].copy()
            gap = x_clean[j] - x[j]
            k = np.arange(1, p.max_search_steps + 1)
            vals = np.unique(x[j] + np.sign(gap) * np.minimum(k * size, abs(gap)))
            cost_now = self._clean_cost(x, j, np.array([x[j]]))[0]
            costs = self._clean_cost(x, j, vals)
            rows = np.repeat(x[None, :], len(vals), axis=0)
            rows[:, j] = vals
            still_fooled = (predict_proba(self.model, rows) >= 0.5).astype(int) != self.y[i]
            ok = still_fooled & (costs < cost_now)
            if ok.any():
                best = np.flatnonzero(ok)[np.argmin(costs[ok])]
                x_new = x.copy()
                x_new[j] = vals[best]
                moved |= self.apply(i, x_new)
        return moved

    def _clean_cost(self, x: np.ndarray, j: int, values: np.ndarray) -> np.ndarray:
        """alpha * JSD_j(clean, current with x_j -> value) + beta * ||C(after) - C_clean||_F."""
        old_bin = self.hist.bins(x[:, None])[:, 0]
        new_bins = np.repeat(old_bin[:, None], len(values), axis=1)
        new_bins[j] = self.hist.bins(np.broadcast_to(values, (self.d, len(values))))[j]
        jsd = self.hist.candidate_jsd(old_bin, new_bins)[j]
        # Row j of the correlation matrix after the move, O(d) per value.
        S, mu, n = self.pearson.S, self.pearson.mu, self.n
        D = values - x[j]
        e = x - mu
        Sjj_new = S[j, j] + D * (2.0 * e[j] + D * (1.0 - 1.0 / n))
        row = (S[j][None, :] + D[:, None] * e[None, :]) / np.sqrt(Sjj_new[:, None] * np.diag(S)[None, :])
        C = self.pearson.corr()
        others = np.arange(self.d) != j
        total_now = np.sum((C - self.C_clean) ** 2)
        row_now = np.sum((C[j, others] - self.C_clean[j, others]) ** 2)
        row_new = np.sum((row[:, others] - self.C_clean[j, others]) ** 2, axis=1)
        fn = np.sqrt(np.maximum(total_now - 2.0 * row_now + 2.0 * row_new, 0.0))
        return candidate_cost(self.p, jsd, fn)

    # -- iterations --------------------------------------------------------------------------
    def iterate(self, iteration: int, progress: bool) -> dict:
        t0 = time.perf_counter()
        # The running statistics are from scratch here: __init__ computes them and every iteration
        # recomputes them at its end from the X it leaves (which bounds accumulated rounding).
        targeted = ~self.mask
        visit = np.flatnonzero(targeted & ~self.fooled)
        pull = np.flatnonzero(targeted & self.fooled) if self.p.optimize_already_fooled else visit[:0]
        t_model = time.perf_counter()
        signs = loss_gradient_sign(self.model, self.X[visit], self.y[visit]) if visit.size else None
        model_seconds = time.perf_counter() - t_model
        order = np.union1d(visit, pull) if pull.size else visit  # increasing index
        bar = tqdm(total=order.size, desc=f"attack iteration {iteration}/{self.p.n_iterations}",
                   disable=not progress, mininterval=0.5, unit="ev", leave=False)
        bar.set_postfix(fooling_ratio=f"{self._ratio():.3f}")
        self.phase_seconds = {}
        t_visit = time.perf_counter()
        if self.engine == "cpu" and pull.size == 0:
            moved = self._visit_compiled(visit, signs, bar)
        elif self.engine == "cuda" and pull.size == 0:
            moved = self._visit_cuda(visit, signs, bar)
        else:
            sign_of = dict(zip(visit.tolist(), range(visit.size)))
            moved = self._visit_python(order, sign_of, signs, bar, naive=self.engine == "naive")
        visit_seconds = time.perf_counter() - t_visit
        t_model = time.perf_counter()
        pred = (predict_proba(self.model, self.X) >= 0.5).astype(np.int64)
        model_seconds += time.perf_counter() - t_model
        self.fooled |= (pred != self.y) & targeted
        bar.set_postfix(fooling_ratio=f"{self._ratio():.3f}")
        bar.close()
        # from scratch: the iteration's JSD (= metrics.jsd_per_feature(X_clean, X)) and FN, and the
        # next iteration's starting statistics
        self.hist.resync(self.X)
        self.pearson.resync(self.X)
        jsd = self.hist.counted_jsd()
        relative_fn = relative_frobenius(self.C_clean, self.pearson.corr())
        return {
            "iteration": iteration,
            "fooling_ratio": self._ratio(),
            "jsd": jsd.tolist(),
            "jsd_mean": float(jsd.mean()),
            "jsd_median": float(np.median(jsd)),
            "jsd_max": float(jsd.max()),
            "relative_fn": relative_fn,
            "events_visited": int(order.size),
            "events_moved": int(moved),
            "seconds": time.perf_counter() - t0,
            "visit_seconds": visit_seconds,
            "model_seconds": model_seconds,
            **{f"{name}_seconds": secs for name, secs in self.phase_seconds.items()},
        }

    def _visit_python(self, order, sign_of, signs, bar, naive: bool) -> int:
        moved = 0
        for i in order.tolist():
            if naive:  # the paper's cost: every statistic from scratch before each event
                self.hist.resync(self.X)
                self.pearson.resync(self.X)
            if i in sign_of:
                moved += self.apply(i, self.choose(self.X[i], signs[sign_of[i]]))
            else:
                moved += self.pull_back(i)
            bar.update(1)
        return moved

    def _visit_compiled(self, visit, signs, bar, chunk: int = 4096) -> int:
        from . import kernels

        p, h, c = self.p, self.hist, self.pearson
        moved = 0
        for start in range(0, visit.size, chunk):
            events = visit[start : start + chunk]
            mc, st, U = self._draws(events.size)
            moved += kernels.visit_events(
                self.X, events.astype(np.int64), np.ascontiguousarray(signs[start : start + chunk]), mc, st, U,
                p.random_mode, self.lo, self.hi, h.edges, h.counts, h.P, h.terms, h.terms_plus,
                h.terms_minus, h.term_sum, c.mu, c.S, float(p.alpha), float(p.beta),
                float(p.max_jsd_single_change), float(p.max_frob_single_change), p.use_no_change, True)
            bar.update(events.size)
        return int(moved)

    def _visit_cuda(self, visit, signs, bar) -> int:
        from .cuda_engine import GpuIteration

        gpu = GpuIteration(self, self.batch_events)
        chunk = cuda_visit_chunk(self.batch_events)
        for start in range(0, visit.size, chunk):
            events = visit[start : start + chunk]
            gpu.visit(events, signs[start : start + chunk], *self._draws(events.size))
            bar.update(events.size)
        moved = gpu.finish()
        self.phase_seconds = gpu.phase_seconds
        return moved

    def _draws(self, m: int):
        """Step sizes and uniforms for m visited events, drawn in the reference engine's order."""
        p, d = self.p, self.d
        N = p.num_candidates if p.random_mode else 0
        U = np.empty((m, d, N))
        if not (p.randomize_step or p.random_mode):
            return np.full((m, d), float(p.min_change)), np.full((m, d), float(p.step)), U
        mc, st = np.empty((m, d)), np.empty((m, d))
        for t in range(m):
            mc[t], st[t] = self._step_sizes()
            if p.random_mode:
                U[t] = self.rng.random((d, N))
        return mc, st, U

    def _ratio(self) -> float:
        targeted = ~self.mask
        return float(self.fooled[targeted].mean()) if targeted.any() else float("nan")


# Events whose step sizes and uniforms are drawn at once for the GPU: bounds the draws' memory
# (m x d x num_candidates floats) on million-event sets.
CUDA_VISIT_EVENTS = 65536


def cuda_visit_chunk(batch_events: int) -> int:
    """Events per call of the GPU engine's ``visit``: about ``CUDA_VISIT_EVENTS``, and in batched
    mode (``batch_events`` B > 1) a whole number of batches, at least one. So every batch holds B
    events, the iteration's last one excepted, however large B is."""
    if batch_events <= 1:
        return CUDA_VISIT_EVENTS
    return batch_events * max(1, CUDA_VISIT_EVENTS // batch_events)


def resolve_engine(engine: str) -> str:
    """The engine ``engine`` names; ``auto`` is ``cpu`` (the fastest exact engine measured, GPU included).

    Raises ParameterError for an unknown name, and for ``cuda`` without a usable GPU.
    """
    if engine not in ENGINES:
        raise ParameterError(f"unknown attack engine {engine!r}; expected one of {ENGINES}")
    if engine == "auto":
        return "cpu"
    if engine == "cuda":
        from .cuda_engine import available

        if not available():
            raise ParameterError("attack engine 'cuda' needs an NVIDIA GPU that numba can use; none was found "
                                 "(use engine 'cpu' or 'auto')")
    return engine


def candidate_cost(params: AttackParams, jsd, fn):
    """A candidate's cost: alpha * JSD + beta * FN."""
    return params.alpha * jsd + params.beta * fn


def attack(
    model: torch.nn.Module,
    X,
    y,
    params: AttackParams | Mapping[str, Any],
    mask=None,
    progress: bool = True,
    engine: str = "auto",
    batch_events: int = 0,
) -> AttackResult:
    """Run CONSERVAttack on the set X with true labels y (SPEC section 2).

    Parameters
    ----------
    model : binary classifier returning P(class 1), shape (n,) or (n, 1); put in eval mode.
    X : (n, d) real array, finite; features min-max scaled (the attack's step sizes assume [0, 1]).
        Bounds, reference histograms and correlation matrix are taken from X itself.
    y : (n,) labels in {0, 1}.
    params : ``AttackParams`` or a mapping with its field names (unknown keys are an error).
    mask : optional (n,) bool, True for events that must not be perturbed.
    progress : show a tqdm bar per iteration (events done, current fooling ratio).
    engine : ``auto`` (= ``cpu``), ``cpu``, ``cuda``, ``numpy`` or ``naive``;
        same decisions (module docstring).
    batch_events : ``cuda`` only: 0 or 1 = exact sequential visits (default); B > 1 = the batched
        approximation, B events choosing against the same statistics.

    Returns
    -------
    AttackResult with ``X_adv`` (float64, same order), ``fooled`` and per-iteration ``history``.
    The input array is not modified.
    """
    params = _as_params(params)
    if params.use_disco:  # distance-correlation constraint: numpy loop only (conservattack.disco)
        from .disco import DiscoAttack as state_type, disco_engine

        engine = disco_engine(engine)
    engine = resolve_engine(engine)
    if isinstance(batch_events, bool) or not isinstance(batch_events, (int, np.integer)) or batch_events < 0:
        raise ParameterError(f"batch_events must be an integer >= 0, got {batch_events!r}")
    if batch_events > 1 and engine != "cuda":
        raise ParameterError(f"batch_events = {batch_events} needs engine 'cuda' (got {engine!r})")
    X, y, mask = _validate(model, X, y, mask)
    predict_proba(model, X[: min(len(X), 1024)])  # rejects a model of the wrong output shape early
    # Constant features (e.g. zero padding) cannot move and have no correlation: the attack runs on
    # the other features, through a model that puts the constant columns back.
    active = X.min(axis=0) != X.max(axis=0)
    inner = model if active.all() else _WithConstantColumns(model, active, X[0])
    state = (state_type if params.use_disco else _ConservAttack)(
        inner, X[:, active], y, mask, params, engine=engine, batch_events=int(batch_events))
    history = [state.iterate(it, progress) for it in range(1, params.n_iterations + 1)]
    X_adv = X.copy()
    X_adv[:, active] = state.X
    for h in history:  # per-feature JSD in the caller's column order, constant features 0, and
        jsd = np.zeros(len(active))  # its mean, median and max over all of them
        jsd[active] = h["jsd"]
        h.update(jsd=jsd.tolist(), jsd_mean=float(jsd.mean()), jsd_median=float(np.median(jsd)),
                 jsd_max=float(jsd.max()))
    return AttackResult(X_adv=X_adv, fooled=state.fooled, mask=mask, params=params, history=history)


class _WithConstantColumns(torch.nn.Module):
    """``model`` seen as a function of the active columns only; the constant ones are fixed."""

    def __init__(self, model, active: np.ndarray, row: np.ndarray):
        super().__init__()
        self.model = model
        self.active = torch.as_tensor(active)
        self.fixed = torch.as_tensor(row[~active], dtype=torch.float32)

    def _full(self, x):
        full = torch.empty((x.shape[0], len(self.active)), dtype=x.dtype, device=x.device)
        full[:, self.active.to(x.device)] = x
        full[:, ~self.active.to(x.device)] = self.fixed.to(x.device, x.dtype)
        return full

    def forward(self, x):
        return self.model(self._full(x))

    def logit_head(self):
        head = logit_head(self.model)
        return None if head is None else _WithConstantColumns(head, self.active.numpy(), self._row())

    def _row(self):
        row = np.zeros(len(self.active))
        row[~self.active.numpy()] = self.fixed.double().numpy()
        return row
