"""The TT vs WW jet study's data (docs/method.md section 3): jets read from ROOT files by configuration,
TopoDNN inputs, the classes TT = 1 and WW = 0, one fixed stratified split and min-max scaling
fitted on the training split; the real data (CMS 2012 SingleMu) processed identically.

The config block ``ttww`` (workflow/schemas/config.schema.yaml) names the samples (``samples.tt``,
``samples.ww``, ``real``: CERN Open Data record ids or ``local_files``), the reader (``reader``:
kind and every tree and branch name) and the constituents (``constituents``). The same reader
parameters and the same TopoDNN preprocessing are applied to every sample.

Jet selection, the same for every reader kind: ``reader.ptmin`` is a cut on the jet's pT, the
transverse part of the sum of its constituents' four-vectors (for ``clustered`` the anti-kT jet's
own pT, E-scheme, which is the same quantity); ``reader.jets`` keeps the leading jet of each event
or all of them (``jagged``: one jet per entry). Jets with fewer than
``constituents.min_constituents`` constituents are dropped and counted (jets.py's policy; TopoDNN
needs a second constituent to fix its rotation). ``max_jets`` then keeps a sample's first jets in
file order.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import awkward as ak
import numpy as np
import pandas as pd

from .jets import read_jets, root_files, topodnn_feature_names, topodnn_frame
from .fetch.opendata import manifest_files
from .preprocessing import SPLITS, MinMaxScaler, scale_frame, stratified_split
from .tables import EVENT, LABEL

SAMPLES = {"tt": 1, "ww": 0}  # simulated classes and their labels (docs/method.md section 3: TT = 1, WW = 0)
REAL = "real"  # the real-data sample (CMS 2012 SingleMu), config ttww.real
PROVENANCE = ["file", "entry", "jet", "jet_pt", "n_constituents"]  # per-jet columns beside the features


def sample_config(ttww: Mapping, name: str) -> Mapping:
    """The config block of sample ``name`` ("tt", "ww" or "real")."""
    if name in SAMPLES:
        return ttww["samples"][name]
    if name == REAL:
        return ttww[REAL]
    raise ValueError(f"unknown ttww sample {name!r}; expected one of {[*SAMPLES, REAL]}")


def config_key(name: str) -> str:
    """The config path of sample ``name``, for messages: ttww.samples.tt, ttww.real."""
    return f"ttww.samples.{name}" if name in SAMPLES else f"ttww.{name}"


def local_inputs(local_files, name: str) -> list[str]:
    """The ROOT files of a sample's ``local_files`` (a file, a folder of *.root, or a list);
    errors name the config key."""
    try:
        return root_files(local_files)
    except (FileNotFoundError, ValueError) as exc:
        raise ValueError(f"config {config_key(name)}.local_files: {exc}") from None


def input_files(paths: Sequence[str]) -> list[str]:
    """A rule's inputs of one sample as ROOT files: a download manifest (*.json) stands for the
    files it lists; other paths are taken as given."""
    out: list[str] = []
    for p in map(str, paths):
        out.extend(manifest_files(p) if p.endswith(".json") else [p])
    if not out:
        raise ValueError("no input file for the sample")
    return out


def reader_config(reader: Mapping, constituents: Mapping) -> dict:
    """The parameters of jets.read_jets from the config blocks ``ttww.reader`` and
    ``ttww.constituents`` (only those that the reader kind takes)."""
    kind = reader["kind"]
    branches = {k: v for k, v in reader["branches"].items() if v is not None}
    params = {"reader": kind, "tree": reader["tree"], "min_constituents": constituents["min_constituents"],
              "step_size": reader["step_size"]}
    if kind == "clustered":
        params.update(branches=branches, R=reader["R"], ptmin=reader["ptmin"], jets=reader["jets"])
    elif kind == "indexed":
        missing = [k for k in ("jet_index_branch", "candidate_index_branch") if not reader.get(k)]
        if missing:
            raise ValueError(f"config ttww.reader: kind 'indexed' needs {missing}: the branches of the jet-candidate "
                             "index table (e.g. FatJetPFCands_jetIdx and FatJetPFCands_pFCandsIdx in PFNano)")
        params.update(candidate_branches=branches, jet_index_branch=reader["jet_index_branch"],
                      candidate_index_branch=reader["candidate_index_branch"], jets=reader["jets"])
    elif kind == "jagged":
        params.update(branches=branches, drop_zero_pt=reader["drop_zero_pt"])
    else:
        raise ValueError(f"config ttww.reader.kind must be 'clustered', 'indexed' or 'jagged', got {kind!r}")
    return params


def jet_pt(jets: ak.Array) -> np.ndarray:
    """pT (GeV) of each jet: the transverse part of the sum of its constituents' four-vectors."""
    px = ak.to_numpy(ak.sum(jets.pt * np.cos(jets.phi), axis=1))
    py = ak.to_numpy(ak.sum(jets.pt * np.sin(jets.phi), axis=1))
    return np.hypot(px, py)


def read_sample(files, reader: Mapping, constituents: Mapping, max_jets: int | None = None,
                progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """The jets of ``files`` as TopoDNN features (physical units: pT / constituents.pt_scale,
    eta, phi) plus the columns PROVENANCE, and the reading statistics (jets.py's ``info`` plus
    "dropped_below_ptmin", "cut_by_max_jets", "kept")."""
    params = reader_config(reader, constituents)
    jets, info = read_jets(files, params, progress=progress)
    pt = jet_pt(jets)
    info["dropped_below_ptmin"] = 0  # the clustered reader never forms jets below ptmin
    if params["reader"] != "clustered" and reader["ptmin"] > 0:
        keep = pt >= reader["ptmin"]
        info["dropped_below_ptmin"] = int((~keep).sum())
        jets, pt = jets[keep], pt[keep]
    info["cut_by_max_jets"] = 0
    if max_jets is not None and len(jets) > max_jets:
        info["cut_by_max_jets"] = len(jets) - int(max_jets)
        jets, pt = jets[:max_jets], pt[:max_jets]
    info["kept"] = len(jets)
    if len(jets) == 0:
        raise ValueError(f"no jet kept from {info['files']}: {info['jets_read']} jet(s) read, "
                         f"{info['dropped_few_constituents']} with fewer than {info['min_constituents']} "
                         f"constituents, {info['dropped_below_ptmin']} below ptmin = {reader['ptmin']} GeV")
    frame = topodnn_frame(jets, constituents["n_constituents"], constituents["pt_scale"])
    frame["jet_pt"] = pt
    frame["n_constituents"] = ak.to_numpy(jets.n_constituents)
    return frame, info


def fit_scaler(train: pd.DataFrame, features) -> tuple[MinMaxScaler, list[str]]:
    """Min-max scaler fitted on the training split. A feature constant there (a zero-padded
    constituent no training jet has) cannot be min-max scaled: it gets the range [lo, lo + 1], so
    it stays at its value minus lo (0 for padding), and it is returned in the list; the attack
    freezes constant features."""
    X = train[list(features)].to_numpy(np.float64)
    lo, hi = X.min(axis=0), X.max(axis=0)
    constant = [f for f, a, b in zip(features, lo, hi) if a == b]
    hi = np.where(hi == lo, lo + 1.0, hi)
    return MinMaxScaler(tuple(features), tuple(lo.tolist()), tuple(hi.tolist())), constant


def prepare_ttww(frames: Mapping[str, pd.DataFrame], split=(0.6, 0.2, 0.2), seed: int = 0) -> dict:
    """The labelled jets of the two classes (``frames`` {"tt", "ww"} from read_sample), one fixed
    stratified split and the min-max scaling fitted on the training split.

    Returns {"splits": {split: scaled frame (features, label, event, PROVENANCE)}, "scaler",
    "features", "constant_features" (on the training split, see fit_scaler), "counts":
    {split: {"events", "signal"}}}.
    """
    missing = [name for name in SAMPLES if name not in frames]
    if missing:
        raise ValueError(f"prepare_ttww: missing sample(s) {missing}")
    features = [c for c in frames["tt"].columns if c not in PROVENANCE]
    if [c for c in frames["ww"].columns if c not in PROVENANCE] != features:
        raise ValueError("prepare_ttww: the tt and ww samples have different feature columns")
    parts = []
    for name, label in SAMPLES.items():
        part = frames[name].copy()
        part[LABEL] = np.int64(label)
        parts.append(part)
    df = pd.concat(parts, ignore_index=True)
    df[EVENT] = np.arange(len(df), dtype=np.int64)
    df = df[[*features, LABEL, EVENT, *PROVENANCE]]
    small = {name: len(frames[name]) for name in SAMPLES if len(frames[name]) < 5}
    if small:
        raise ValueError(f"prepare_ttww: too few jets to split {small}; at least 5 per class are needed")
    raw = stratified_split(df, split, seed=seed)
    scaler, constant = fit_scaler(raw["train"], features)
    counts = {name: {"events": len(part), "signal": int(part[LABEL].sum())} for name, part in raw.items()}
    return {"splits": {name: scale_frame(raw[name], scaler) for name in SPLITS}, "scaler": scaler,
            "features": features, "constant_features": constant, "counts": counts}


def feature_names(constituents: Mapping) -> list[str]:
    """The TopoDNN feature names of the configured number of constituents (87 for 30)."""
    return topodnn_feature_names(constituents["n_constituents"])


def describe(frame: pd.DataFrame) -> dict:
    """A few numbers of a sample's jets for the data summary."""
    return {"jets": len(frame), "jet_pt_median_gev": float(np.median(frame["jet_pt"])),
            "n_constituents_median": float(np.median(frame["n_constituents"])),
            "n_constituents_max": int(frame["n_constituents"].max()),
            "with_at_least_30_constituents": int((frame["n_constituents"] >= 30).sum())}

