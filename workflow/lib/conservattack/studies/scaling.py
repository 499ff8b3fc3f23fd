"""Size scaling (docs/method.md section 8.7): the attack's fooling ratio, JSD and relative FN
versus the size of the attacked set, for the exact rule, the reference rule with chunk counts,
and the calibrated constraints (the exact rule with budgets from the subset's own bootstrap,
docs/method.md section 2.13).

One trained model, one attacked set (the test split's targeted events), put once in a seeded
random order (``nested_order``); the subset of size n is its first n events, so each size's
subset contains the smaller ones. Every (size, rule configuration) is one attack of that subset
with the same parameters, only the rule and its ``n_chunks`` changing (``RuleConfig``). The
attack's bins, bounds, reference histograms and correlation matrix come from the attacked set
itself, so a size is a different attacked set in everything that scales with n (section 8.5).

Sizes are given as event counts, strictly increasing, at least ``MIN_SIZES`` of them; the last
may be ``"all"`` (the whole attacked set, whose size is known once the model is trained).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..attacks.params import BY_NAME, RULES, AttackParams
from .paper import PAPER_NUMBERS
from .rule_comparison import calibrated_params

MIN_SIZES = 5  # a curve of fewer points says little about a trend
CALIBRATED = "calibrated"  # the setting of the calibrated constraints, beside the rules
SETTINGS = (*RULES, CALIBRATED)
# the calibration where a caller gives none: the attack parameters' defaults
DEFAULT_CALIBRATION = {"resamples": BY_NAME["calibration_resamples"].default,
                       "quantile": BY_NAME["calibration_quantile"].default, "z": BY_NAME["calibration_z"].default}
ALL = "all"  # the size token of the whole attacked set
METRICS = ("fooling_ratio", "jsd_mean", "relative_fn")  # the figure's panels and the paper's reference lines
COLUMNS = ["dataset", "standin", "data", "size", "rule", "n_chunks", "config", "fooling_ratio", "n_fooled",
           "jsd_mean", "jsd_max", "relative_fn", "reference_relative_fn", "cross_chunk_max_shift",
           "within_chunk_max_shift", "events_moved", "n_iterations", "engine", "seconds"]


@dataclass(frozen=True)
class RuleConfig:
    """One rule configuration of the study: ``exact``, ``reference`` with ``n_chunks`` chunks, or
    ``calibrated`` (the exact rule under the calibrated constraints). Its ``name`` (``exact``,
    ``reference_c4``, ``calibrated``) names its outputs."""

    rule: str
    n_chunks: int | None = None

    def __post_init__(self):
        if self.rule not in SETTINGS:
            raise ValueError(f"unknown rule {self.rule!r}; expected one of {list(SETTINGS)}")
        if self.rule != "reference" and self.n_chunks is not None:
            raise ValueError(f"the {self.rule} setting has no feature chunks")
        if self.rule == "reference" and (not isinstance(self.n_chunks, int) or self.n_chunks < 1):
            raise ValueError(f"the reference rule needs n_chunks >= 1, got {self.n_chunks!r}")

    @property
    def name(self) -> str:
        return self.rule if self.n_chunks is None else f"{self.rule}_c{self.n_chunks}"

    @property
    def label(self) -> str:
        if self.rule == CALIBRATED:
            return "calibrated constraints"
        if self.n_chunks is None:
            return f"{self.rule} rule"
        return f"{self.rule} rule, {self.n_chunks} chunk{'s' if self.n_chunks > 1 else ''}"

    @classmethod
    def parse(cls, name: str) -> "RuleConfig":
        """The configuration a ``name`` stands for (``exact``, ``reference_c1``, ...)."""
        m = re.fullmatch(r"(reference)_c(\d+)", name)
        if m:
            return cls(m.group(1), int(m.group(2)))
        return cls(name)

    def params(self, base: Mapping, calibration: Mapping | None = None) -> dict:
        """Attack parameters ``base`` (a config ``params`` block) with this rule (and chunks); a
        rule or chunk count in ``base`` is replaced. ``calibrated``: the exact rule with
        ``calibration`` (resamples, quantile, z; default ``DEFAULT_CALIBRATION``) in place of the
        per-move limits."""
        out = {k: v for k, v in base.items() if k not in ("rule", "n_chunks")}
        if self.rule == CALIBRATED:
            return calibrated_params({**out, "rule": "exact"}, calibration or DEFAULT_CALIBRATION)
        out["rule"] = self.rule
        if self.n_chunks is not None:
            out["n_chunks"] = self.n_chunks
        return out


def rule_configs(rules: Sequence[str], n_chunks: Sequence[int]) -> list[RuleConfig]:
    """The study's configurations: the exact rule once, the reference rule once per chunk count,
    in the order given."""
    out = []
    for rule in rules:  # (and the calibrated setting)
        if rule == "reference":
            out += [RuleConfig(rule, int(c)) for c in n_chunks]
        else:
            out.append(RuleConfig(rule))
    return out


def size_errors(sizes, key: str, available: int | None = None, what: str | None = None) -> list[str]:
    """What is wrong with a size list (one message per mistake, naming ``key``): fewer than
    ``MIN_SIZES`` sizes, a size that is not an integer >= 2 (or ``all`` last), sizes not strictly
    increasing, a size larger than ``available`` events (when known; ``what`` says what they are,
    default "the attacked set (N events)")."""
    errors = []
    if not isinstance(sizes, (list, tuple)) or len(sizes) < MIN_SIZES:
        n = len(sizes) if isinstance(sizes, (list, tuple)) else 0
        return [f"config {key}: at least {MIN_SIZES} sizes are needed for a curve, got {n}"]
    numbers = list(sizes[:-1]) if sizes[-1] == ALL else list(sizes)
    for s in numbers:
        if s == ALL:
            errors.append(f"config {key}: '{ALL}' may only be the last size")
        elif isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 2:
            errors.append(f"config {key}: sizes are event counts >= 2 (or '{ALL}' last), got {s!r}")
    if errors:
        return errors
    if any(b <= a for a, b in zip(numbers, numbers[1:])):
        errors.append(f"config {key}: sizes must be strictly increasing (each subset holds the smaller ones), "
                      f"got {list(sizes)}")
    if available is not None and numbers and max(numbers) > available:
        errors.append(f"config {key}: size {max(numbers)} is larger than "
                      f"{what or f'the attacked set ({available} events)'}")
    if available is not None and sizes[-1] == ALL and numbers and numbers[-1] >= available:
        errors.append(f"config {key}: '{ALL}' is {available} events, not more than the size before it "
                      f"({numbers[-1]})")
    return errors


def check_sizes(sizes, key: str, available: int | None = None, what: str | None = None) -> None:
    """A ValueError with every ``size_errors`` message, if any."""
    errors = size_errors(sizes, key, available, what)
    if errors:
        raise ValueError("\n".join(errors))


def size_value(token, n_attacked: int) -> int:
    """The number of events a size token stands for (``all``: the whole attacked set)."""
    return int(n_attacked) if token == ALL else int(token)


def size_tokens(sizes) -> list[str]:
    """The sizes as they name outputs: ``500``, ``all``."""
    return [str(s) for s in sizes]


def nested_order(n: int, seed: int) -> np.ndarray:
    """A seeded random order of the attacked set's n events; its first k are the subset of size k."""
    return np.random.default_rng(seed).permutation(n)


def attack_row(meta: Mapping) -> dict:
    """One row of the table from one attack's record (``scaling_attack``: ``dataset``,
    ``standin``, ``data``, ``size``, ``rule_config``, ``engine``, ``history`` as ``attack`` gives it)."""
    config = RuleConfig.parse(meta["rule_config"])
    final = meta["history"][-1]
    return {"dataset": meta["dataset"], "standin": bool(meta["standin"]), "data": meta["data"],
            "size": int(meta["size"]), "rule": config.rule, "n_chunks": config.n_chunks, "config": config.name,
            "fooling_ratio": final["fooling_ratio"], "n_fooled": int(round(final["fooling_ratio"] * meta["size"])),
            "jsd_mean": final["jsd_mean"], "jsd_max": final["jsd_max"], "relative_fn": final["relative_fn"],
            "reference_relative_fn": final.get("reference_relative_fn"),
            "cross_chunk_max_shift": final.get("cross_chunk_max_shift"),
            "within_chunk_max_shift": final.get("within_chunk_max_shift"),
            "events_moved": sum(h.get("events_moved", 0) for h in meta["history"]),
            "n_iterations": len(meta["history"]), "engine": meta["engine"],
            "seconds": sum(h["seconds"] for h in meta["history"])}


def scaling_table(metas: Sequence[Mapping]) -> pd.DataFrame:
    """The study's table (``COLUMNS``), one row per attack, by configuration then size."""
    df = pd.DataFrame([attack_row(m) for m in metas], columns=COLUMNS)
    df["n_chunks"] = df["n_chunks"].astype("Int64")
    for column in ("reference_relative_fn", "cross_chunk_max_shift", "within_chunk_max_shift"):  # exact: NaN
        df[column] = pd.to_numeric(df[column]).astype(float)
    order = {name: k for k, name in enumerate(dict.fromkeys(df["config"]))}
    return (df.assign(_order=df["config"].map(order)).sort_values(["_order", "size"], kind="stable")
            .drop(columns="_order").reset_index(drop=True))


def paper_reference(dataset: str) -> dict[str, float]:
    """The paper's numbers of ``METRICS`` for ``dataset``, where it gives one (its attacked sets are
    about 50,000 events or more)."""
    numbers = PAPER_NUMBERS.get(dataset, {})
    return {m: numbers[m][0] for m in METRICS if m in numbers and numbers[m][0] is not None}


def run_scaling(model, X, y, sizes, configs: Sequence[RuleConfig], params: Mapping, seed: int = 0,
                order_seed: int = 0, engine: str = "auto", dataset: str = "", standin: bool = False, data: str = "",
                progress: bool = False, calibration: Mapping | None = None) -> pd.DataFrame:
    """The study in one call, for an analyst: the attacked set ``X``, ``y`` (already the targeted
    events), put in a random order (``order_seed``), attacked at every size with every
    configuration and the same ``params`` (a mapping of AttackParams fields; ``seed`` its seed;
    ``calibration`` that of the ``calibrated`` setting). Returns ``scaling_table`` of the attacks."""
    from ..attacks.api import attack

    X, y = np.asarray(X), np.asarray(y)
    check_sizes(list(sizes), "sizes", len(X))
    order = nested_order(len(X), order_seed)
    metas = []
    for config in configs:
        for token in sizes:
            n = size_value(token, len(X))
            rows = order[:n]
            p = AttackParams.from_config(config.params(params, calibration), seed=seed)
            t0 = time.perf_counter()
            result = attack(model, X[rows], y[rows], p, progress=progress, engine=engine)
            history = result.history
            if not history:
                history = [{"fooling_ratio": result.fooling_ratio, "seconds": time.perf_counter() - t0}]
            metas.append({"dataset": dataset, "standin": standin, "data": data, "size": n, "rule_config": config.name,
                          "engine": engine, "history": history})
    return scaling_table(metas)


__all__ = ["ALL", "CALIBRATED", "COLUMNS", "DEFAULT_CALIBRATION", "METRICS", "MIN_SIZES", "SETTINGS", "RuleConfig", "attack_row", "check_sizes", "nested_order",
           "paper_reference", "rule_configs", "run_scaling", "scaling_table", "size_errors", "size_tokens",
           "size_value"]
