"""The attack's entry point: ``attack(model, X, y, params)`` (docs/method.md section 2).

It validates the inputs, freezes constant features, builds an ``AttackState`` (a ``DiscoAttack``
with ``use_disco``) and runs ``n_iterations`` iterations on the chosen engine
(``conservattack.attacks.engines``). The running statistics (``attacks.running_stats``) make a
candidate's JSD an O(1) look-up and its Frobenius norm an O(1) closed form after O(d^2) work per
event, so one event visit costs O(d^2 + d K) for K candidates. The choices made where the paper is
silent are listed in docs/method.md section 6.
The model is evaluated where it lives: move it to the GPU yourself for GPU gradients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import torch

from .engines import resolve_engine
from .inference import logit_head, predict_proba
from .metrics import jsd_summary
from .params import AttackParams, ParameterError
from .state import AttackState


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
    record: dict | None = None  # with attack(..., record=True): X_after per iteration; choices (reference rule)
    budgets: dict | None = None  # constraints: calibrated: the budgets (attacks.calibration.Budgets.to_dict)

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


def _validate(model, X, y, mask, keep_dtype: bool = False):
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (events x features), got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"X must hold real numbers, got dtype {X.dtype}")
    # always a copy: the caller's array is never modified; the reference rule works in the set's
    # own dtype (float32 or float64), as the authors' code does
    X = X.astype(X.dtype if keep_dtype and X.dtype in (np.float32, np.float64) else np.float64)
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


def attack(
    model: torch.nn.Module,
    X,
    y,
    params: AttackParams | Mapping[str, Any],
    mask=None,
    progress: bool = True,
    engine: str = "auto",
    batch_events: int = 0,
    record: bool = False,
) -> AttackResult:
    """Run CONSERVAttack on the set X with true labels y (docs/method.md section 2).

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
        same decisions (``conservattack.attacks.engines``). Under the reference rule: ``auto``
        (= ``cpu`` for a float64 set, else ``numpy``), ``cpu`` or ``numpy``, the same decisions.
    batch_events : ``cuda`` only: 0 or 1 = exact sequential visits (default); B > 1 = the batched
        approximation, B events choosing against the same statistics.
    record : keep the set after every iteration (``result.record["X_after"]``) and, under the
        reference rule, every visit's choice (``result.record["choices"]``: iteration, worker,
        visit position, event, feature, chosen candidate index, its delta), for replays.

    Returns
    -------
    AttackResult with ``X_adv`` (float64, same order; under the reference rule the dtype of X when
    float32 or float64), ``fooled`` and per-iteration ``history``. The input array is not modified.
    With ``params.rule`` ``reference`` the attack is the authors' decision rule
    (``conservattack.attacks.reference``); its history adds their reported metrics.
    """
    params = _as_params(params)
    if isinstance(batch_events, bool) or not isinstance(batch_events, (int, np.integer)) or batch_events < 0:
        raise ParameterError(f"batch_events must be an integer >= 0, got {batch_events!r}")
    if params.constraints == "calibrated" and batch_events > 1:
        raise ParameterError(f"batch_events = {batch_events} cannot be combined with constraints: calibrated (a batch "
                             "chooses against shared statistics, and a budget bounds the state each move leaves); use "
                             "batch_events 0 (the cuda engine's exact mode)")
    if params.rule == "reference":
        from .reference import ReferenceAttack as state_type, reference_engine

        reference_engine(engine)  # an engine of the exact rule only: stop before validating the inputs
    elif params.use_disco:  # distance-correlation constraint: numpy loop only (conservattack.attacks.disco)
        from .disco import DiscoAttack as state_type, disco_engine

        engine = disco_engine(engine)
    engine = resolve_engine(engine) if params.rule == "exact" else engine
    if batch_events > 1 and engine != "cuda":
        raise ParameterError(f"batch_events = {batch_events} needs engine 'cuda' (got {engine!r})")
    X, y, mask = _validate(model, X, y, mask, keep_dtype=params.rule == "reference")
    predict_proba(model, X[: min(len(X), 1024)])  # rejects a model of the wrong output shape early
    # Constant features (e.g. zero padding) cannot move and have no correlation: the attack runs on
    # the other features, through a model that puts the constant columns back.
    active = X.min(axis=0) != X.max(axis=0)
    inner = model if active.all() else ConstantColumns(model, active, X[0])
    if params.rule == "reference":
        engine = reference_engine(engine, X)
        run_workers = None
        if engine == "cpu":
            from .engines.reference_cpu import run_workers
        state = state_type(inner, X[:, active], y, mask, params, record=record, engine=engine, run_workers=run_workers)
    else:
        state = (state_type if params.use_disco else AttackState)(
            inner, X[:, active], y, mask, params, engine=engine, batch_events=int(batch_events))
    history, kept = [], {"X_after": []} if record else None
    for it in range(1, params.n_iterations + 1):
        history.append(state.iterate(it, progress))
        if record:
            after = X.copy()
            after[:, active] = state.X
            kept["X_after"].append(after)
    if record and params.rule == "reference":  # feature indices in the caller's columns
        columns = np.flatnonzero(active)
        kept["choices"] = [(*row[:4], int(columns[row[4]]), *row[5:]) for row in state.choices]
    X_adv = X.copy()
    X_adv[:, active] = state.X
    for h in history:  # per-feature JSD in the caller's column order, constant features 0, and
        for key in ("reference_jsd", "reference_jsd50"):  # (the reference rule's reported JSDs too)
            if key in h:
                full = np.zeros(len(active))
                full[active] = h[key]
                h[key] = full.tolist()
        jsd = np.zeros(len(active))  # its mean, median and max over all of them
        jsd[active] = h["jsd"]
        h.update(jsd_summary(jsd))
    budgets = None
    if getattr(state, "budgets", None) is not None:
        budgets = state.budgets.to_dict(np.flatnonzero(active), len(active))
    return AttackResult(X_adv=X_adv, fooled=state.fooled, mask=mask, params=params, history=history, record=kept,
                        budgets=budgets)


class ConstantColumns(torch.nn.Module):
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
        return None if head is None else ConstantColumns(head, self.active.numpy(), self._row())

    def _row(self):
        row = np.zeros(len(self.active))
        row[~self.active.numpy()] = self.fixed.double().numpy()
        return row
