"""Cumulative adversarial training with grey-box evaluation (docs/method.md, study 4).

Per run: the base model is the run's classifier; test adversaries come from the base model. Each
iteration k = 1..K draws attack parameters from configured ranges, attacks the training set with
the run's INITIAL model, and the model of iteration k is trained from scratch on the training set
plus the fooled adversaries of iterations 1..k (true labels). Every model is evaluated on the test
adversaries of every run: same run = white-box, other runs = grey-box.
"""

from __future__ import annotations

import numbers
from dataclasses import fields
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..attacks.params import PARAMETERS, AttackParams, ParameterError

# Parameters drawn as integers when given as a range.
INTEGER_PARAMS = tuple(p.name for p in PARAMETERS if p.kind == "integer")  # drawn as integers
# The order in which ranges are drawn: AttackParams' field order, not the config's key order.
PARAM_ORDER = tuple(f.name for f in fields(AttackParams) if f.name != "seed")


def _is_range(value) -> bool:
    return isinstance(value, (list, tuple))


def draw_attack_params(ranges: Mapping[str, Any], seed: int) -> dict:
    """Attack parameters for one iteration: every ``[low, high]`` entry of ``ranges`` drawn
    uniformly (integers for the integer parameters, both ends included), every scalar kept.

    Draws go in AttackParams' field order with one ``numpy.random.default_rng(seed)``, so the
    result depends on the seed and the ranges, not on the order of keys in the configuration.
    The result is checked by ``AttackParams.from_config`` (unknown or out-of-range parameters are
    an error naming the key).
    """
    unknown = sorted(set(ranges) - set(PARAM_ORDER))
    if unknown:
        raise ParameterError(f"unknown attack parameter(s) {unknown} in the ranges; known: {sorted(PARAM_ORDER)}")
    rng = np.random.default_rng(seed)
    out = {}
    for name in PARAM_ORDER:
        if name not in ranges:
            continue
        value = ranges[name]
        if _is_range(value):
            if len(value) != 2 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
                raise ParameterError(f"range of attack parameter '{name}' must be [low, high], got {value!r}")
            low, high = value
            if low > high:
                raise ParameterError(f"range of attack parameter '{name}' has low > high: {value!r}")
            if name in INTEGER_PARAMS:
                if int(low) != low or int(high) != high:
                    raise ParameterError(f"range of integer attack parameter '{name}' must hold integers: {value!r}")
                out[name] = int(rng.integers(int(low), int(high), endpoint=True))
            else:
                out[name] = float(rng.uniform(low, high))
        else:
            out[name] = value
    AttackParams.from_config(out)  # validate: a bad range or value stops here, with the key named
    return out


def cumulative_training_set(X: np.ndarray, y: np.ndarray,
                            adversaries: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]):
    """The training set of iteration k: the clean training events followed by the FOOLED
    adversaries of iterations 1..k, in iteration order, with their true labels.

    ``adversaries`` holds one (X_adv, y_true, fooled) per iteration. Returns (X, y, counts) with
    counts = fooled adversaries appended per iteration. An event fooled in several iterations is
    appended once per iteration (each is a different perturbation).
    """
    X, y = np.asarray(X, np.float64), np.asarray(y, np.int64)
    blocks_X, blocks_y, counts = [X], [y], []
    for i, (X_adv, y_adv, fooled) in enumerate(adversaries, start=1):
        X_adv, y_adv, fooled = np.asarray(X_adv, np.float64), np.asarray(y_adv, np.int64), np.asarray(fooled, bool)
        if X_adv.ndim != 2 or X_adv.shape[1] != X.shape[1] or not len(X_adv) == len(y_adv) == len(fooled):
            raise ValueError(f"adversaries of iteration {i}: shapes {X_adv.shape}, {y_adv.shape}, {fooled.shape} "
                             f"do not match {X.shape[1]} features")
        blocks_X.append(X_adv[fooled])
        blocks_y.append(y_adv[fooled])
        counts.append(int(fooled.sum()))
    return np.vstack(blocks_X), np.concatenate(blocks_y), counts


def fooling_rows(model_run: int, iteration: int, labels: Mapping[int, np.ndarray],
                 probabilities: Mapping[int, np.ndarray]) -> list[dict]:
    """Fooling ratio of one model (of run ``model_run``, ``iteration`` 0 = base) on the test
    adversaries of every run s: the fraction of run s's attacked events whose adversarial version
    the model misclassifies (P >= 0.5 -> 1). ``box`` is white (s = model_run) or grey."""
    rows = []
    for s in labels:
        y, p = np.asarray(labels[s], np.int64), np.asarray(probabilities[s], float)
        fooled = (p >= 0.5).astype(np.int64) != y
        rows.append({"model_run": int(model_run), "iteration": int(iteration), "adversaries_of": int(s),
                     "box": "white" if int(s) == int(model_run) else "grey",
                     "fooling_ratio": float(fooled.mean()) if len(y) else float("nan"), "n_adversaries": len(y)})
    return rows


def per_model_table(evaluation: pd.DataFrame) -> pd.DataFrame:
    """One row per model (model_run, iteration): white-box FR, grey-box FR (mean over the other
    runs' adversaries) and clean test AUROC, from the rows of ``fooling_rows`` with an ``auroc``
    column (the model's clean test AUROC)."""
    keys = ["model_run", "iteration"]
    white = evaluation[evaluation.box == "white"].groupby(keys).fooling_ratio.mean().rename("white_box")
    grey = evaluation[evaluation.box == "grey"].groupby(keys).fooling_ratio.mean().rename("grey_box")
    auroc = evaluation.groupby(keys).auroc.first()
    table = pd.concat([white, grey, auroc], axis=1).reset_index()
    return table.sort_values(keys, ignore_index=True)


def iterations_table(models: pd.DataFrame, attacks: Mapping[tuple[int, int], Mapping],
                     trained: Mapping[tuple[int, int], Mapping]) -> pd.DataFrame:
    """``per_model_table`` with, per (run, iteration >= 1), the drawn attack parameters
    (``param_<name>``), the training attack's targeted and fooled events and fooling ratio, and the
    size of the cumulative training set. ``attacks`` and ``trained`` map (run, iteration) to the
    iteration's attack record and model record (the rules' JSON files)."""
    rows = []
    for (run, it), meta in attacks.items():
        model = trained[(run, it)]
        rows.append({"model_run": int(run), "iteration": int(it), "train_attack_targeted": meta["n_targeted"],
                     "train_attack_fooled": meta["n_fooled"],
                     "train_attack_fooling_ratio": meta["final"]["fooling_ratio"],
                     "n_training": model["n_clean"] + model["n_adversaries"],
                     "n_adversaries_cumulative": model["n_adversaries"],
                     **{f"param_{k}": v for k, v in meta["drawn_params"].items()}})
    return models.merge(pd.DataFrame(rows), on=["model_run", "iteration"], how="left")


def best_iteration(grey: pd.Series, white: pd.Series) -> int:
    """Index of the iteration with the lowest grey-box FR (ties: the earliest); white-box FR when
    there is no grey-box entry (one run)."""
    values = grey if grey.notna().any() else white
    return int(values.idxmin())


def summarise_runs(models: pd.DataFrame) -> pd.DataFrame:
    """Per run, from ``per_model_table``: base model (iteration 0), mean over iterations 1..K and
    the best iteration (lowest grey-box FR of that run's models, 1..K) for the grey-box and
    white-box fooling ratios and the clean test AUROC."""
    rows = []
    for run, m in models.groupby("model_run"):
        m = m.set_index("iteration").sort_index()
        if 0 not in m.index or len(m) < 2:
            raise ValueError(f"run {run}: the base model (iteration 0) and at least one iteration are needed")
        base, it = m.loc[0], m.loc[m.index > 0]
        best = best_iteration(it.grey_box, it.white_box)
        rows.append({
            "run": int(run),
            "advtrain_grey_box_base": base.grey_box, "advtrain_grey_box_mean": it.grey_box.mean(),
            "advtrain_grey_box_best": it.grey_box[best],
            "advtrain_white_box_base": base.white_box, "advtrain_white_box_mean": it.white_box.mean(),
            "advtrain_white_box_at_best": it.white_box[best],
            "advtrain_auroc_base": base.auroc, "advtrain_auroc_mean": it.auroc.mean(),
            "advtrain_auroc_at_best": it.auroc[best], "advtrain_best_iteration": best,
        })
    return pd.DataFrame(rows)
