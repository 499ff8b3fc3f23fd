"""A stand-in data set at a size the real sample does not reach: the smoothed bootstrap of real
events (docs/method.md section 8.7).

The real events are split into train, validation and test first; each split is then resampled
with replacement, on its own, to its share of the target size (stratified by label: each split
keeps its label fractions), so that no test event has a copy in the training split. Each copy
gets Gaussian noise on its continuous values (``smooth``): Silverman's bandwidth of the
feature's continuous values in the split, times ``bandwidth_factor``, narrowed where the values
are denser than that rule assumes (to the local width of Silverman's bandwidth in normal
scores), and reflected into the split's range of the values. On the 22,889-event Higgs sample
plain Silverman noise smeared the pile-ups at the bounds (a Kolmogorov-Smirnov distance of 0.12
to the real marginal of ``DER_met_phi_centrality``), and noise in normal scores alone moved the
outliers of the tails far enough to change correlations by up to 0.12 (``DER_pt_tot`` with
``PRI_met``); together: distances below 0.025, correlations within 0.02.

What is not continuous is copied unchanged:

- discrete features (``discrete``, e.g. ``PRI_jet_num``, or any feature with at most
  ``max_levels`` distinct values);
- marker values (``markers``, e.g. the Higgs -999.0 "undefined"), so an event's pattern of
  undefined quantities is the one of the real event it copies;
- atoms: a value that at least ``atom_fraction`` of the split's events hold exactly (the Higgs
  ``PRI_jet_all_pt`` = 0 of events without jets, ``DER_lep_eta_centrality`` = 0, the boundary
  values of ``DER_met_phi_centrality``), which noise would smear into a continuum.

Every other column (label, weight) is the copied event's. Each copy gets a new ``event`` id and
keeps its real event's id as ``source_event``. The result is a *stand-in*: relations between
features (sums, a jet's pT above the next one's) hold only to the bandwidth, and the events are
copies of about a tenth as many real ones; it is labelled so (``STANDIN``) wherever it goes.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from .higgs import FEATURES as HIGGS_FEATURES
from .higgs import MARKER, treat_missing
from .preprocessing import SPLITS, MinMaxScaler, scale_frame, stratified_split
from .tables import EVENT, LABEL

STANDIN = "stand-in"  # the word every output of a stand-in carries
SOURCE_EVENT = "source_event"  # the real event a copy was made from
HIGGS_DISCRETE = ("PRI_jet_num",)


def silverman_bandwidth(x) -> float:
    """Silverman's rule of thumb, 0.9 min(std, IQR / 1.34) n^(-1/5), of the values ``x`` (the
    standard deviation alone where the IQR is 0; 0 for fewer than two values or no spread)."""
    x = np.asarray(x, np.float64)
    if x.size < 2:
        return 0.0
    std = float(np.std(x, ddof=1))
    q75, q25 = np.percentile(x, [75, 25])
    spread = min(std, (q75 - q25) / 1.34) if q75 > q25 else std
    return 0.9 * spread * x.size ** -0.2


def allocate(total: int, weights) -> np.ndarray:
    """``total`` split into integers proportional to ``weights`` (largest remainder), summing to
    ``total`` exactly."""
    w = np.asarray(weights, np.float64)
    if total < 0 or w.size == 0 or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"cannot allocate {total} over weights {w.tolist()}")
    exact = total * w / w.sum()
    out = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - out), kind="stable")
    out[order[: total - int(out.sum())]] += 1
    return out


def feature_plan(frame: pd.DataFrame, features: Sequence[str], discrete=(), markers=(MARKER,),
                 atom_fraction: float = 0.01, max_levels: int = 10, bandwidth_factor: float = 1.0) -> dict:
    """What the smoothing does to each feature of ``frame`` (one split): {feature: {"kind":
    "discrete" or "continuous", "atoms": values copied unchanged, "bandwidth": Silverman's
    bandwidth of its continuous values (physical units), "score_bandwidth": Silverman's for as
    many normal scores, both times ``bandwidth_factor``, "low"/"high": the range of the continuous
    values, "values": those values sorted}}. See the module docstring and ``smooth``."""
    if not 0 < atom_fraction <= 1:
        raise ValueError(f"atom_fraction must be in (0, 1], got {atom_fraction}")
    if bandwidth_factor < 0:
        raise ValueError(f"bandwidth_factor must be >= 0, got {bandwidth_factor}")
    unknown = [f for f in discrete if f not in features]
    if unknown:
        raise ValueError(f"discrete feature(s) {unknown} are not among the features")
    plan = {}
    for f in features:
        x = frame[f].to_numpy(np.float64)
        values, counts = np.unique(x, return_counts=True)
        copied = {"kind": "discrete", "atoms": values.tolist(), "bandwidth": 0.0, "score_bandwidth": 0.0,
                  "low": None, "high": None, "values": None}
        if f in discrete or len(values) <= max_levels:
            plan[f] = copied
            continue
        atom = counts >= atom_fraction * len(x)
        atoms = sorted(set(values[atom].tolist()) | {float(m) for m in markers if np.any(x == m)})
        continuous = np.sort(x[~np.isin(x, atoms)])
        if continuous.size < 2 or continuous[0] == continuous[-1]:
            plan[f] = copied
            continue
        scores = ndtri((np.arange(continuous.size) + 0.5) / continuous.size)
        plan[f] = {"kind": "continuous", "atoms": atoms,
                   "bandwidth": bandwidth_factor * silverman_bandwidth(continuous),
                   "score_bandwidth": bandwidth_factor * silverman_bandwidth(scores),
                   "low": float(continuous[0]), "high": float(continuous[-1]), "values": continuous}
    return plan


def smooth(x: np.ndarray, p: Mapping, rng: np.random.Generator) -> np.ndarray:
    """The smoothed-bootstrap noise on the continuous values ``x`` of one feature (``p``: its
    ``feature_plan`` entry). Each value gets Gaussian noise of standard deviation
    min(bandwidth, local width), reflected into [low, high]. The local width is half the distance
    between the empirical quantiles one ``score_bandwidth`` below and above the value's normal
    score (the inverse normal CDF of its mid-rank quantile): where values are denser than
    Silverman's rule assumes (a peak, a pile-up at a bound) the noise is narrower; in the tails it
    is Silverman's, so an outlier stays near its place."""
    values = p["values"]
    m = values.size
    rank = 0.5 * (np.searchsorted(values, x, side="left") + np.searchsorted(values, x, side="right"))
    z = ndtri(rank / m)
    positions = np.arange(m, dtype=np.float64)

    def quantile(score):
        return np.interp(ndtr(score) * m - 0.5, positions, values)

    width = 0.5 * (quantile(z + p["score_bandwidth"]) - quantile(z - p["score_bandwidth"]))
    y = x + rng.normal(0.0, 1.0, size=x.size) * np.minimum(p["bandwidth"], width)
    return reflect(y, p["low"], p["high"])


def reflect(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """``x`` folded back into [low, high] at its ends (a reflecting boundary), clipped last."""
    x = np.where(x < low, 2 * low - x, x)
    x = np.where(x > high, 2 * high - x, x)
    return np.clip(x, low, high)


def smoothed_bootstrap(frame: pd.DataFrame, n: int, features: Sequence[str], rng: np.random.Generator,
                       plan: Mapping[str, dict], label: str = LABEL) -> pd.DataFrame:
    """``n`` events drawn with replacement from ``frame`` (stratified by ``label``: the label
    fractions are kept to the event), noise added by ``plan`` (``feature_plan``). Every column of
    ``frame`` is kept; ``source_event`` is the copied event's ``event``."""
    if len(frame) == 0:
        raise ValueError("cannot resample an empty split")
    labels = frame[label].to_numpy()
    classes, counts = np.unique(labels, return_counts=True)
    per_class = allocate(n, counts)
    rows = np.concatenate([rng.choice(np.flatnonzero(labels == c), size=k, replace=True)
                           for c, k in zip(classes, per_class)])
    rows.sort(kind="stable")
    out = frame.iloc[rows].reset_index(drop=True)
    if EVENT in out.columns:
        out.insert(len(out.columns), SOURCE_EVENT, out[EVENT].to_numpy())
    for f in features:
        p = plan[f]
        if p["kind"] != "continuous" or p["bandwidth"] == 0:
            continue
        x = out[f].to_numpy(np.float64, copy=True)
        moved = ~np.isin(x, p["atoms"])
        x[moved] = smooth(x[moved], p, rng)
        out[f] = x
    return out


def make_standin(df: pd.DataFrame, events: int, features: Sequence[str], split=(0.6, 0.2, 0.2), split_seed: int = 0,
                 seed: int = 0, discrete=(), markers=(MARKER,), atom_fraction: float = 0.01, max_levels: int = 10,
                 bandwidth_factor: float = 1.0, label: str = LABEL) -> dict:
    """The stand-in of ``df`` (real events in physical units, with ``label`` and ``event``): the
    stratified split of ``df`` (``split``, ``split_seed``: the real study's split with the real
    study's seed), then each split resampled on its own to its share of ``events``
    (``smoothed_bootstrap``, seeded with ``seed``).

    Returns {"splits": {name: frame, physical units}, "counts": {name: {"events", "signal",
    "real_events"}}, "plans": {name: feature_plan}}. The copies' ``event`` ids are 0 to
    ``events`` - 1 over the splits in order; ``source_event`` is the real id."""
    if events < len(SPLITS):
        raise ValueError(f"a stand-in of {events} events is too small")
    raw = stratified_split(df, split, seed=split_seed, label=label)
    sizes = allocate(int(events), [len(raw[name]) for name in SPLITS])
    rng = np.random.default_rng(seed)
    splits, counts, plans, first = {}, {}, {}, 0
    for name, n in zip(SPLITS, sizes):
        plans[name] = feature_plan(raw[name], features, discrete, markers, atom_fraction, max_levels, bandwidth_factor)
        part = smoothed_bootstrap(raw[name], int(n), features, rng, plans[name], label)
        part[EVENT] = np.arange(first, first + len(part), dtype=np.int64)
        first += len(part)
        splits[name] = part
        counts[name] = {"events": len(part), "signal": int(part[label].sum()), "real_events": len(raw[name])}
    return {"splits": splits, "counts": counts, "plans": plans}


def prepare_higgs_standin(df: pd.DataFrame, events: int = 250_000, split=(0.6, 0.2, 0.2), split_seed: int = 0,
                          seed: int = 0, bandwidth_factor: float = 1.0, atom_fraction: float = 0.01,
                          missing_policy: str = "keep") -> dict:
    """The Higgs stand-in, prepared as ``higgs.prepare_higgs`` prepares the real events: the
    stand-in's splits (``make_standin`` with ``PRI_jet_num`` discrete and -999.0 a marker), the
    missing-value policy fitted on its training split, min-max scaling fitted on its training split.

    Returns {"splits": scaled frames, "scaler", "missing", "counts", "plans"} (as prepare_higgs,
    plus the real events behind each split in "counts" and the smoothing of each feature)."""
    made = make_standin(df, events, HIGGS_FEATURES, split=split, split_seed=split_seed, seed=seed,
                        discrete=HIGGS_DISCRETE, markers=(MARKER,), atom_fraction=atom_fraction,
                        bandwidth_factor=bandwidth_factor)
    treated, infos = {}, {}
    for name in SPLITS:
        treated[name], infos[name] = treat_missing(made["splits"][name], missing_policy,
                                                   reference=made["splits"]["train"])
    replacement = {}
    for info in infos.values():
        replacement.update(info["replacement"])
    missing = {"policy": missing_policy, "marker": MARKER, "replacement": replacement,
               "dropped": {name: infos[name]["dropped"] for name in SPLITS}}
    scaler = MinMaxScaler.fit(treated["train"], HIGGS_FEATURES)
    counts = {name: {**made["counts"][name], "events": len(treated[name]),
                     "signal": int(treated[name][LABEL].sum())} for name in SPLITS}
    return {"splits": {name: scale_frame(treated[name], scaler) for name in SPLITS}, "scaler": scaler,
            "missing": missing, "counts": counts, "plans": made["plans"]}


__all__ = ["HIGGS_DISCRETE", "SOURCE_EVENT", "STANDIN", "allocate", "feature_plan", "make_standin",
           "prepare_higgs_standin", "reflect", "silverman_bandwidth", "smooth", "smoothed_bootstrap"]
