"""The state of one attack (docs/method.md section 2): the set, its running statistics, and the
numpy reference of the per-event move selection (``choose``, ``apply``, ``pull_back``).

The other engines (``conservattack.attacks.engines``) make the same decisions from the same state;
``iterate`` runs one iteration (gradient signs, the visit by the configured engine, re-evaluation,
from-scratch re-synchronisation of the statistics).
"""

from __future__ import annotations

import time

import numpy as np
from tqdm.auto import tqdm

from .inference import loss_gradient_sign, predict_proba
from .metrics import jsd_summary, relative_frobenius
from .calibration import calibrate
from .params import AttackParams
from .running_stats import RunningHistograms, RunningPearson


class AttackState:
    """State of one attack: the set, its running statistics and the per-event move selection.

    Public, so that engines, benchmarks and tests can drive an attack step by step; ``attack()``
    (``conservattack.attacks.api``) is the entry point that validates inputs and builds one.

    Attributes
    ----------
    model, X, y, mask, p : the classifier, the set being moved (float64, n x d, modified in
        place), labels, excluded events and the ``AttackParams``.
    engine, batch_events : the engine that visits the events (``conservattack.attacks.engines``).
    n, d : events and features; X_clean : the set as it started; lo, hi : per-feature bounds.
    hist : ``RunningHistograms`` of X against the clean histograms (the JSD statistics).
    pearson : ``RunningPearson`` of X (the correlation statistics; a
        ``RunningDistanceCorrelation`` in ``DiscoAttack``).
    C_clean : the clean correlation matrix; rng : the attack's random generator.
    fooled : events fooled so far; phase_seconds : sub-phases of the last visit an engine reports.
    """

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
        self.budgets = None  # constraints: calibrated: the clean set's budgets (attacks.calibration)
        if params.constraints == "calibrated":
            self.budgets = calibrate(X, params.num_bins, params.calibration_resamples, params.calibration_quantile,
                                     params.calibration_z, params.seed,
                                     "distance_correlation" if params.use_disco else "pearson",
                                     params.calibration_dcor_sigma)
        self.fooled = np.zeros(self.n, dtype=bool)
        self.phase_seconds = {}  # sub-phases of the last iteration's visit an engine reports (batched GPU mode)

    # -- candidates --------------------------------------------------------------------------
    def step_sizes(self):
        """``min_change`` and ``step`` per feature for one visited event (jittered with ``randomize_step``)."""
        p = self.p
        if p.randomize_step:
            jit = self.rng.uniform(1.0 - p.random_step_frac, 1.0 + p.random_step_frac, size=self.d)
            return p.min_change * jit, p.step * jit
        return np.full(self.d, p.min_change), np.full(self.d, p.step)

    def candidates(self, x: np.ndarray, s: np.ndarray):
        """Candidate moves (d x K, rows ordered by |move|) and which of them exist."""
        mc, st = self.step_sizes()
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
        """New values of the event's features (docs/method.md section 2.3), all against the current statistics."""
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

    def move_calibrated(self, i: int, s: np.ndarray) -> bool:
        """Move event i under the calibrated constraints (docs/method.md section 2.13): feature by
        feature, each move chosen against the statistics after the event's previous moves and
        applied at once, so every admitted move keeps every budget. Returns whether it moved."""
        p, b = self.p, self.budgets
        x = self.X[i].copy()
        D, valid = self.candidates(x, s)
        xn = np.clip(x[:, None] + D, self.lo[:, None], self.hi[:, None])
        # a feature's histogram changes only with its own move: every JSD against the event's start
        jsd_ratio = self.hist.candidate_jsd(self.hist.bins(x[:, None])[:, 0], self.hist.bins(xn)) / b.jsd[:, None]
        moved = False
        for j in range(self.d):
            corr_ratio = self.row_budget_ratio(self.X[i], j, xn[j] - x[j])
            cost = p.alpha * jsd_ratio[j] + p.beta * corr_ratio
            admissible = valid[j] & (jsd_ratio[j] <= 1.0) & (corr_ratio <= 1.0)
            if admissible.any():
                x_new = self.X[i].copy()
                x_new[j] = xn[j, np.argmin(np.where(admissible, cost, np.inf))]  # ties: the smaller move
                moved |= self.apply(i, x_new)
        return moved

    def row_budget_ratio(self, x: np.ndarray, j: int, deltas: np.ndarray) -> np.ndarray:
        """Largest |C'_jk - C_clean_jk| / budget_jk over k != j if feature j of the event whose current
        values are ``x`` moved by each of ``deltas`` (O(d) each): only row j changes, to
        C'_jk = (S_jk + D e_k) u_k r' with e = x - mu, u_k = S_kk^-1/2 and r' = S_jj'^-1/2.
        A move that would leave feature j constant gets +inf."""
        S, n = self.pearson.S, self.n
        e = x - self.pearson.mu
        u = 1.0 / np.sqrt(np.diag(S))
        Sjj_new = S[j, j] + deltas * (2.0 * e[j] + deltas * (1.0 - 1.0 / n))
        with np.errstate(invalid="ignore", divide="ignore"):
            r_new = 1.0 / np.sqrt(Sjj_new)
            c = ((S[j][None, :] + deltas[:, None] * e[None, :]) * u[None, :]) * r_new[:, None]
            ratio = np.abs(c - self.C_clean[j][None, :]) / self.budgets.corr[j][None, :]
        ratio[:, j] = 0.0
        return np.where(Sjj_new > 0.0, ratio.max(axis=1), np.inf)

    def budget_ratios(self) -> dict:
        """From the current (re-synchronised) statistics: each feature's JSD over its budget and each
        coefficient's distance to its clean value over its budget, at their largest."""
        C = self.pearson.corr()
        corr = np.abs(C - self.C_clean) / self.budgets.corr
        np.fill_diagonal(corr, 0.0)
        return {"jsd_budget_ratio_max": float(np.max(self.hist.counted_jsd() / self.budgets.jsd)),
                "corr_budget_ratio_max": float(corr.max())}

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
        bar.set_postfix(fooling_ratio=f"{self.fooling_ratio:.3f}")
        self.phase_seconds = {}
        t_visit = time.perf_counter()
        if self.engine == "cpu" and self.budgets is not None:
            from .engines import calibrated_cpu

            moved = calibrated_cpu.visit(self, visit, signs, bar)
        elif self.engine == "cpu" and pull.size == 0:
            from .engines import cpu

            moved = cpu.visit(self, visit, signs, bar)
        elif self.engine == "cuda" and pull.size == 0:
            from .engines import cuda

            moved = cuda.visit(self, visit, signs, bar)
        else:
            sign_of = dict(zip(visit.tolist(), range(visit.size)))
            moved = self.visit_reference(order, sign_of, signs, bar)
        visit_seconds = time.perf_counter() - t_visit
        t_model = time.perf_counter()
        pred = (predict_proba(self.model, self.X) >= 0.5).astype(np.int64)
        model_seconds += time.perf_counter() - t_model
        self.fooled |= (pred != self.y) & targeted
        bar.set_postfix(fooling_ratio=f"{self.fooling_ratio:.3f}")
        bar.close()
        # from scratch: the iteration's JSD (= metrics.jsd_per_feature(X_clean, X)) and FN, and the
        # next iteration's starting statistics
        self.hist.resync(self.X)
        self.pearson.resync(self.X)
        jsd = self.hist.counted_jsd()
        relative_fn = relative_frobenius(self.C_clean, self.pearson.corr())
        return {
            "iteration": iteration,
            "fooling_ratio": self.fooling_ratio,
            **jsd_summary(jsd),
            "relative_fn": relative_fn,
            **(self.budget_ratios() if self.budgets is not None else {}),
            "events_visited": int(order.size),
            "events_moved": int(moved),
            "seconds": time.perf_counter() - t0,
            "visit_seconds": visit_seconds,
            "model_seconds": model_seconds,
            **{f"{name}_seconds": secs for name, secs in self.phase_seconds.items()},
        }

    def visit_reference(self, order, sign_of, signs, bar) -> int:
        """Visit ``order`` with the numpy reference engine (``naive``: from scratch before every
        event); ``sign_of`` maps an event to its row of ``signs``, the others are pulled back."""
        from .engines import naive, numpy

        return (naive if self.engine == "naive" else numpy).visit(self, order, sign_of, signs, bar)

    def draws(self, m: int):
        """Step sizes and uniforms for m visited events, drawn in the reference engine's order."""
        p, d = self.p, self.d
        N = p.num_candidates if p.random_mode else 0
        U = np.empty((m, d, N))
        if not (p.randomize_step or p.random_mode):
            return np.full((m, d), float(p.min_change)), np.full((m, d), float(p.step)), U
        mc, st = np.empty((m, d)), np.empty((m, d))
        for t in range(m):
            mc[t], st[t] = self.step_sizes()
            if p.random_mode:
                U[t] = self.rng.random((d, N))
        return mc, st, U

    @property
    def fooling_ratio(self) -> float:
        """Fooled targeted events over targeted events, so far."""
        targeted = ~self.mask
        return float(self.fooled[targeted].mean()) if targeted.any() else float("nan")


def candidate_cost(params: AttackParams, jsd, fn):
    """A candidate's cost: alpha * JSD + beta * FN."""
    return params.alpha * jsd + params.beta * fn
