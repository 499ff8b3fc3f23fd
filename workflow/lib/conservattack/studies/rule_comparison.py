"""The two decision rules side by side (docs/studies.md, "Exact and reference rule"): per run, the
attack study's attack under the exact rule beside its re-runs under the reference rule (the
authors' code, emulated: docs/method.md section 8.4), one per chunk count, with the audit of what
the reference rule's stated constraint let through: the JSD and the relative FN of the whole
Pearson matrix as the exact rule measures them, the authors' own reported numbers, and the largest
shift of a correlation between features of different chunks, which their rule never checks.

``comparison_row`` makes one row of ``results/<dataset>/rule_comparison.csv`` from an attack's
record (attack.json) and its adversaries; ``comparison_per_run`` turns the table into the
summary's per-run columns (``<metric>_reference_c<k>``).

With ``rule_comparison.calibrated.enabled`` the same attack runs a third time, under the calibrated
constraints (docs/method.md section 2.13: budgets from bootstrap resamples of the attacked set
instead of the per-move limits); its row is the setting ``calibrated``, with the largest ratios of
the final set's JSD and correlations to their budgets, and its summary columns are
``<metric>_calibrated``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..attacks.params import PER_MOVE_LIMITS
from ..attacks.reference import cross_chunk_shift, feature_chunks
from ..data.tables import split_adversaries
from .glossary import calibrated_metric_name, reference_metric_name

__all__ = ["CALIBRATED_METRICS", "COLUMNS", "SUMMARY_METRICS", "calibrated_params", "chunk_audit",
           "comparison_per_run", "comparison_row", "setting_label"]

# rule_comparison.csv, one row per run and setting; the reference rule's own columns are empty for
# the exact rule
COLUMNS = ["run", "setting", "rule", "n_chunks", "n_targeted", "fooling_ratio", "jsd_mean", "jsd_max", "relative_fn",
           "reported_jsd_mean", "reported_jsd_max", "reported_jsd50_max", "reported_relative_fn",
           "cross_chunk_max_shift", "cross_chunk_pair", "cross_chunk_clean", "cross_chunk_adversarial",
           "within_chunk_max_shift", "attack_seconds", "constraints", "jsd_budget_ratio_max", "corr_budget_ratio_max"]
# the columns that go to the summary per chunk count, as <metric>_reference_c<k>
SUMMARY_METRICS = ("fooling_ratio", "jsd_mean", "jsd_max", "relative_fn", "reported_jsd_mean", "reported_relative_fn",
                   "cross_chunk_max_shift", "within_chunk_max_shift")
# the calibrated attack's columns that go to the summary, as <metric>_calibrated
CALIBRATED_METRICS = ("fooling_ratio", "jsd_mean", "jsd_max", "relative_fn", "jsd_budget_ratio_max",
                      "corr_budget_ratio_max")


def calibrated_params(params: dict, calibration: dict) -> dict:
    """An attack block's ``params`` under the calibrated constraints with ``calibration``
    (``resamples``, ``quantile``, ``z``: ``rule_comparison.calibrated``): the per-move limits left
    out, everything else (grid, weights, iterations, bins, seed) as it is."""
    out = {k: v for k, v in params.items() if k not in PER_MOVE_LIMITS}
    return {**out, "constraints": "calibrated", "calibration_resamples": int(calibration["resamples"]),
            "calibration_quantile": float(calibration["quantile"]), "calibration_z": float(calibration["z"])}


def setting_label(rule: str, n_chunks: int | None = None, constraints: str = "per_move") -> str:
    """``exact``, ``calibrated`` (the exact rule under calibrated constraints), or ``reference, 1
    chunk`` / ``reference, 4 chunks``."""
    if constraints == "calibrated":
        return "calibrated"
    if rule == "exact":
        return "exact"
    return f"{rule}, {n_chunks} chunk{'' if n_chunks == 1 else 's'}"


def chunk_audit(features, n_chunks: int, adversaries: pd.DataFrame) -> dict:
    """What the chunks left unconstrained in one reference-rule attack, from its adversaries table:
    the largest change of a Pearson correlation between two features of different chunks, the pair
    (``a & b``, by name; none where no correlation moved) with its clean and adversarial values,
    and the largest change within a chunk. Features constant over the attacked events are not part of the attack (they are not
    moved and have no correlation), so the chunks are those of the others, as the attack made them."""
    X_clean, X_adv, _, _ = split_adversaries(adversaries, features)
    active = X_clean.min(axis=0) != X_clean.max(axis=0)
    names = np.asarray(features, dtype=object)[active]
    audit = cross_chunk_shift(X_clean[:, active], X_adv[:, active], feature_chunks(int(active.sum()), n_chunks))
    pair = audit.pop("cross_chunk_pair", None)
    nan = float("nan")
    out = {"cross_chunk_max_shift": nan, "cross_chunk_pair": "", "cross_chunk_clean": nan,
           "cross_chunk_adversarial": nan, "within_chunk_max_shift": audit["within_chunk_max_shift"]}
    if pair is not None:  # features in different chunks; a pair only where a correlation moved
        out["cross_chunk_max_shift"] = audit["cross_chunk_max_shift"]
        if audit["cross_chunk_max_shift"] > 0:
            out.update(cross_chunk_pair=" & ".join(names[pair]), cross_chunk_clean=audit["cross_chunk_clean"],
                       cross_chunk_adversarial=audit["cross_chunk_adversarial"])
    return out


def comparison_row(run: int, meta: dict, adversaries: pd.DataFrame) -> dict:
    """One row of rule_comparison.csv from an attack's record (``meta``: its attack.json) and its
    adversaries table: the fooling ratio, JSD and relative FN of its last iteration as the exact
    rule measures them, and for the reference rule the authors' reported JSD (per-feature mean and
    largest; the largest 50-bin one) and relative FN and the chunk audit (``chunk_audit``)."""
    final, params = meta["final"], meta["params"]
    rule, constraints = params.get("rule", "exact"), params.get("constraints", "per_move")
    nan = float("nan")
    row = dict.fromkeys(COLUMNS, nan) | {
        "run": int(run), "rule": rule, "setting": setting_label(rule, params.get("n_chunks"), constraints),
        "constraints": constraints,
        "n_targeted": int(meta["n_targeted"]), "attack_seconds": float(meta["seconds"]), "cross_chunk_pair": "",
        **{key: float(final[key]) for key in ("fooling_ratio", "jsd_mean", "jsd_max", "relative_fn")}}
    if rule == "reference":
        row.update(n_chunks=int(params["n_chunks"]), reported_jsd_mean=float(np.mean(final["reference_jsd"])),
                   reported_jsd_max=float(np.max(final["reference_jsd"])),
                   reported_jsd50_max=float(np.max(final["reference_jsd50"])),
                   reported_relative_fn=float(final["reference_relative_fn"]),
                   **chunk_audit(meta["features"], int(params["n_chunks"]), adversaries))
    if constraints == "calibrated":
        row.update(jsd_budget_ratio_max=float(final["jsd_budget_ratio_max"]),
                   corr_budget_ratio_max=float(final["corr_budget_ratio_max"]))
    return row


def comparison_per_run(table: pd.DataFrame) -> pd.DataFrame:
    """The reference rule's numbers of rule_comparison.csv as the summary's per-run columns, one per
    metric of ``SUMMARY_METRICS`` and chunk count k: ``<metric>_reference_c<k>`` (with one chunk no
    pair of features lies in different chunks, so ``cross_chunk_max_shift`` is left out there), and
    the calibrated attack's, one per metric of ``CALIBRATED_METRICS``: ``<metric>_calibrated``."""
    reference = table[table["rule"] == "reference"]
    out = pd.DataFrame({"run": sorted(set(table["run"]))})
    for k, rows in reference.groupby("n_chunks", sort=True):
        metrics = [m for m in SUMMARY_METRICS if not (m == "cross_chunk_max_shift" and k == 1)]
        wide = rows.set_index("run")[metrics]
        wide.columns = [reference_metric_name(m, k) for m in metrics]
        out = out.merge(wide, left_on="run", right_index=True, how="left")
    calibrated = table[table["constraints"] == "calibrated"] if "constraints" in table else table.iloc[:0]
    if len(calibrated):
        wide = calibrated.set_index("run")[list(CALIBRATED_METRICS)]
        wide.columns = [calibrated_metric_name(m) for m in CALIBRATED_METRICS]
        out = out.merge(wide, left_on="run", right_index=True, how="left")
    return out
