"""The restricted (control-region) attack of docs/method.md section 2 and the best single cut of study 2.

An analysis validates its simulation in a control region (CR) and applies the classifier in a
signal region (SR). The restricted attack keeps the CR's marginals and correlations (statistics,
cost and bounds use CR events only) while SR events, which no CR check sees, simply take the
largest candidate move along the gradient sign. Region membership is fixed by the clean value of
the cut feature.

Because SR moves never touch the CR statistics and CR moves never touch SR events, the CR part is
exactly ``attack()`` on the CR events, and the SR part an independent largest-move update per
iteration; running them one after the other gives the same result as interleaving them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..attacks.api import attack
from ..attacks.inference import loss_gradient_sign, predict_proba
from ..attacks.params import AttackParams


@dataclass(frozen=True)
class Cut:
    """x[feature] > threshold predicts signal when side == "above" (else when <= threshold)."""

    feature: int
    threshold: float
    side: str
    accuracy: float

    def signal_side(self, X) -> np.ndarray:
        x = np.asarray(X)[:, self.feature]
        return x > self.threshold if self.side == "above" else x <= self.threshold

    def control_region(self, X) -> np.ndarray:
        """The background-enriched side."""
        return ~self.signal_side(X)


def best_single_cut(X, y) -> Cut:
    """Exhaustive search over features and thresholds (midpoints between consecutive distinct
    values) for the one-sided cut of highest accuracy; ties go to the lower feature index."""
    X, y = np.asarray(X, np.float64), np.asarray(y).astype(bool)
    n = len(y)
    best = Cut(-1, np.nan, "above", -1.0)
    for j in range(X.shape[1]):
        order = np.argsort(X[:, j], kind="stable")
        x, s = X[order, j], y[order]
        last = np.r_[x[1:] != x[:-1], False]  # positions after which a threshold can sit
        if not last.any():
            continue
        sig_below = np.cumsum(s)[last]
        bkg_below = np.cumsum(~s)[last]
        sig_above = s.sum() - sig_below
        acc_above = (bkg_below + sig_above) / n  # signal predicted above the threshold
        for side, acc in (("above", acc_above), ("below", 1.0 - acc_above)):
            k = int(np.argmax(acc))
            if acc[k] > best.accuracy:
                idx = np.flatnonzero(last)[k]
                best = Cut(j, float((x[idx] + x[idx + 1]) / 2.0), side, float(acc[k]))
    if best.feature < 0:
        raise ValueError("no feature takes two distinct values: no cut can be placed")
    return best


@dataclass
class RestrictedResult:
    X_adv: np.ndarray
    fooled: np.ndarray
    control: np.ndarray  # True for CR events
    history: list[dict] = field(default_factory=list)  # of the CR attack (JSD and FN on the CR)

    def fooling_ratios(self) -> dict:
        f = self.fooled
        return {"fooling_ratio_cr": float(f[self.control].mean()) if self.control.any() else float("nan"),
                "fooling_ratio_sr": float(f[~self.control].mean()) if (~self.control).any() else float("nan"),
                "fooling_ratio_all": float(f.mean())}


def largest_moves(model, X, y, params: AttackParams, lo, hi, seed_offset: int = 1):
    """SR part: per iteration, every not-yet-fooled event moves each feature by its largest
    candidate along the gradient sign (bounds: lo/hi). Returns (X_adv, fooled).

    With ``randomize_step``, min_change and step are scaled per event and feature by
    U(1 - f, 1 + f), as the attack's candidates are. The draws come from the SR's own generator
    (``params.seed + seed_offset``), per iteration first the (events, d) jitter factors, then in
    random mode the (events, d, N) uniforms."""
    X = np.array(X, dtype=np.float64)
    y = np.asarray(y)
    fooled = np.zeros(len(X), bool)
    rng = np.random.default_rng(params.seed + seed_offset)
    for _ in range(params.n_iterations):
        idx = np.flatnonzero(~fooled)
        if idx.size == 0:
            break
        s = loss_gradient_sign(model, X[idx], y[idx])
        x = X[idx]
        room = np.where(s > 0, hi - x, x - lo)
        jitter = 1.0
        if params.randomize_step:
            f = params.random_step_frac
            jitter = rng.uniform(1.0 - f, 1.0 + f, size=x.shape)
        mc = params.min_change * jitter
        if params.random_mode:  # the largest of N draws U(min_change, room)
            u = rng.random((idx.size, X.shape[1], params.num_candidates)).max(axis=2)
            X[idx] = np.clip(np.where(room >= mc, x + s * (mc + u * (room - mc)), x), lo, hi)
        else:  # the largest grid move min_change + k * step that stays within the bounds
            X[idx] = _largest_grid_move(x, s, mc, params.step * jitter, lo, hi)
        pred = (predict_proba(model, X) >= 0.5).astype(int)
        fooled |= pred != y
    return X, fooled


def _largest_grid_move(x, s, mc, step, lo, hi) -> np.ndarray:
    """x + s (mc + k step) for the largest k >= 0 that stays within [lo, hi], decided by the
    attack's literal bound check (attacks.AttackState.candidates); x where even k = 0 leaves
    them. ``mc`` and ``step``: scalars or one per value of x. The division only estimates k (it
    can round either way), the check settles it."""
    room = np.where(s > 0, hi - x, x - lo)
    k = np.floor(np.maximum(room - mc, 0.0) / step) + 1.0
    while True:
        xn = x + s * (mc + k * step)
        out = ((xn < lo) | (xn > hi)) & (k >= 0)
        if not out.any():
            return np.where(k >= 0, xn, x)
        k = np.where(out, k - 1.0, k)


def restricted_attack(model, X, y, params: AttackParams, control, engine: str = "auto",
                      progress: bool = True) -> RestrictedResult:
    """CONSERVAttack with the CR constraint: ``control`` marks the CR events (fixed by their clean
    values). SR events are bounded by the whole set's [min, max]."""
    X = np.asarray(X, np.float64)
    control = np.asarray(control, bool)
    X_adv = X.copy()
    fooled = np.zeros(len(X), bool)
    history: list[dict] = []
    if control.sum() >= 2:
        cr = attack(model, X[control], np.asarray(y)[control], params, progress=progress, engine=engine)
        X_adv[control], fooled[control], history = cr.X_adv, cr.fooled, cr.history
    if (~control).any():
        X_adv[~control], fooled[~control] = largest_moves(model, X[~control], np.asarray(y)[~control], params,
                                                          X.min(axis=0), X.max(axis=0))
    return RestrictedResult(X_adv, fooled, control, history)
