"""Jet constituents from ROOT files and the TopoDNN preprocessing (docs/method.md section 3, TT vs WW jets).

Three readers, one per file layout; every tree and branch name is a parameter (``EXAMPLE_CONFIGS``
holds documented examples, ``read_jets`` takes one such dict):

- ``read_candidates_clustered``: per-event particle candidates (CMS AOD PF candidates, PFNano
  ``PFCands_*``) clustered into jets with anti-kT (scikit-hep ``fastjet``);
- ``read_indexed``: NanoAOD/PFNano candidates plus a jet-candidate index table
  (``FatJetPFCands_jetIdx`` / ``FatJetPFCands_pFCandsIdx``);
- ``read_jagged``: ntuples with one entry per jet and a variable-length constituent list per branch.

Each reads in chunks (``TTree.iterate`` with ``step_size``, a number of entries or a size such as
"50 MB") with a tqdm bar over entries, and returns ``(jets, info)``: ``jets`` an awkward array with
one record per jet, fields ``pt``, ``eta``, ``phi`` (and ``mass`` where a mass branch is given),
each a float64 list of the jet's constituents sorted by decreasing pT (ties keep file order),
``n_constituents`` (int64, before any ``max_constituents`` cut), ``file`` (index into
``info["files"]``), ``entry`` (TTree entry) and ``jet`` (the jet's index in its event, see each
reader); ``info`` = {"files", "tree", "events" (entries read), "jets_read" (jets found),
"jets" (kept), "dropped_few_constituents", "min_constituents", "max_constituents"}.

Policy for small jets: a jet with fewer than ``min_constituents`` (default 2: TopoDNN needs a
second constituent to fix its rotation) is dropped and counted in
``info["dropped_few_constituents"]``; ``min_constituents=1`` keeps one-constituent jets.

Errors are ValueError (FileNotFoundError for an absent file) naming the file and what was
expected: a file that does not start with the ROOT magic bytes, a truncated or corrupt ROOT file,
a missing tree (listing the file's TTrees), a missing branch (listing the tree's branches),
branches that are not numeric lists, lists of unequal length within one entry, non-finite values,
and index-table entries out of range (naming branch and entry).
"""

from __future__ import annotations

import difflib
import lzma
import zlib
from pathlib import Path
from typing import Iterator, Mapping

import awkward as ak
import cramjam
import numpy as np
import pandas as pd
import uproot
from tqdm.auto import tqdm

from .io import ROOT_MAGIC, not_root_head

KINEMATICS = ("pt", "eta", "phi", "mass")  # keys of a branch map; mass is optional
DEFAULT_STEP_SIZE = "50 MB"
TOPODNN_N_CONSTITUENTS = 30
TOPODNN_PT_SCALE = 1679.16  # GeV; Pearkes et al. 2017 min-max scaling of pT (min 0)
_MAX_LISTED = 200  # names listed in a missing-branch error before it is cut

_PFCANDS = {"pt": "PFCands_pt", "eta": "PFCands_eta", "phi": "PFCands_phi", "mass": "PFCands_mass"}
_AOD_PF = "recoPFCandidates_particleFlow__RECO.obj.m_state.p4Polar_.fCoordinates."

# Example configurations: "reader" names the reader, the other keys are its parameters.
EXAMPLE_CONFIGS: dict[str, dict] = {
    # PFNano (2016 open data, the shared pfnano.root): AK8 jets with their PF candidates.
    "pfnano_fatjet": {"reader": "indexed", "tree": "Events", "candidate_branches": _PFCANDS,
                      "jet_index_branch": "FatJetPFCands_jetIdx",
                      "candidate_index_branch": "FatJetPFCands_pFCandsIdx"},
    # PFNano AK4 jets with their PF candidates.
    "pfnano_jet": {"reader": "indexed", "tree": "Events", "candidate_branches": _PFCANDS,
                   "jet_index_branch": "JetPFCands_jetIdx", "candidate_index_branch": "JetPFCands_pFCandsIdx"},
    # PFNano candidates re-clustered (anti-kT R = 0.8, leading jet per event).
    "pfnano_candidates": {"reader": "clustered", "tree": "Events", "branches": _PFCANDS, "R": 0.8,
                          "jets": "leading"},
    # CMS 2012 AOD(SIM) (CMSSW EDM): the particleFlow candidates' polar four-vectors (docs/method.md section 3).
    # Not checked on a real AOD file here: run a file's first entries through it before a production.
    "cms_aod_candidates": {"reader": "clustered", "tree": "Events",
                           "branches": {"pt": _AOD_PF + "fPt", "eta": _AOD_PF + "fEta", "phi": _AOD_PF + "fPhi",
                                        "mass": _AOD_PF + "fM"},
                           "R": 0.8, "jets": "leading"},
    # A flat ntuple with one entry per jet and constituent lists (names are only an example).
    "jagged_ntuple": {"reader": "jagged", "tree": "jets",
                      "branches": {"pt": "constituent_pt", "eta": "constituent_eta", "phi": "constituent_phi"}},
}


# ---------------------------------------------------------------------------------------------
# files, trees and branches


def root_files(files) -> list[str]:
    """The ROOT files named by ``files`` (one path or a list): a folder stands for all its *.root
    files, sorted by name; files are taken as given, in order; URLs (with "://") are passed on."""
    files = [files] if isinstance(files, (str, Path)) else list(files)
    if not files:
        raise ValueError("no ROOT input file given")
    out: list[str] = []
    for f in files:
        if "://" in str(f):
            out.append(str(f))
            continue
        p = Path(f)
        if p.is_dir():
            inside = sorted(str(q) for q in p.glob("*.root") if q.is_file())
            if not inside:
                raise ValueError(f"{p}: folder holds no *.root file")
            out.extend(inside)
        elif p.is_file():
            out.append(str(p))
        else:
            raise FileNotFoundError(f"ROOT input {p} does not exist")
    return out


def _check_magic(path: str) -> None:
    """A local file must start with the ROOT magic bytes b"root"."""
    if "://" in path:
        return
    head = not_root_head(path, len(ROOT_MAGIC))
    if head is not None:
        raise ValueError(f"{path}: not a ROOT file (it starts with {head!r}, a ROOT file with {ROOT_MAGIC!r})")


def _names_listing(names: list[str], missing: str) -> str:
    """The existing ``names`` for an error message: all of them, or close matches plus the first
    _MAX_LISTED where there are more."""
    if len(names) <= _MAX_LISTED:
        return f"{names}"
    close = difflib.get_close_matches(missing, names, n=10, cutoff=0.5)
    return (f"{len(names)} names, closest to {missing!r}: {close}; the first {_MAX_LISTED}: "
            f"{names[:_MAX_LISTED]} ...")


def _uproot_call(path: str, what: str, fn):
    """Run ``fn()``; an uproot failure becomes a ValueError naming the file (truncated, corrupt)."""
    try:
        return fn()
    except (ValueError, OSError, EOFError, KeyError, zlib.error, lzma.LZMAError, cramjam.DecompressionError,
            uproot.deserialization.DeserializationError) as exc:  # cramjam: uproot's LZMA, ZSTD and LZ4
        raise ValueError(f"{path}: truncated or corrupt ROOT file ({what} failed: "
                         f"{type(exc).__name__}: {str(exc).strip()[:300]})") from exc


def _tree(file, path: str, tree: str):
    """The TTree ``tree`` of an open file; errors list the file's TTrees."""
    classes = _uproot_call(path, "reading the directory", lambda: file.classnames(cycle=False))
    trees = sorted(k for k, c in classes.items() if c in ("TTree", "TNtuple"))
    if tree not in classes:
        raise ValueError(f"{path}: no tree {tree!r}; TTrees in the file: {trees}")
    if tree not in trees:
        raise ValueError(f"{path}: {tree!r} is a {classes[tree]}, not a TTree; TTrees in the file: {trees}")
    return _uproot_call(path, f"reading tree {tree!r}", lambda: file[tree])


def _check_branches(t, path: str, tree: str, names: list[str]) -> None:
    """Every name in ``names`` must be a branch of ``t``; the error lists the tree's branches."""
    for name in names:
        try:
            t[name]
        except uproot.KeyInFileError:
            raise ValueError(f"{path}: tree {tree!r} has no branch {name!r}; branches present: "
                             f"{_names_listing(t.keys(), name)}") from None


def _count_entries(path: str, tree: str, names: list[str]) -> int:
    """Check that ``path`` is a readable ROOT file with ``tree`` and branches ``names``; its entries."""
    _check_magic(path)
    with _uproot_call(path, "open", lambda: uproot.open(path)) as f:
        t = _tree(f, path, tree)
        _check_branches(t, path, tree, names)
        return int(t.num_entries)


def _iterate(files: list[str], tree: str, names: list[str], step_size, progress: bool,
             desc: str) -> Iterator[tuple[int, int, dict]]:
    """(file index, first entry, {branch: awkward array}) chunks of all ``files``, after checking
    every file first; one tqdm bar over all entries."""
    total = sum(_count_entries(p, tree, names) for p in files)
    with tqdm(total=total, unit="event", desc=desc, disable=not progress) as bar:
        for i, path in enumerate(files):
            with uproot.open(path) as f:
                chunks = f[tree].iterate(names, step_size=step_size, library="ak", how=dict, report=True)
                while True:
                    item = _uproot_call(path, "reading", lambda: next(chunks, None))
                    if item is None:
                        break
                    arrays, report = item
                    yield i, int(report.tree_entry_start), arrays
                    bar.update(int(report.tree_entry_stop - report.tree_entry_start))


def _lists(arrays: dict, names: Mapping[str, str], path: str, start: int) -> tuple[dict, np.ndarray]:
    """Flat float64 values {key: array} of list branches ``names`` {key: branch} and their
    common per-entry lengths; errors for non-list, non-numeric, unequal-length, non-finite data."""
    flat, counts, first = {}, None, None
    for key, branch in names.items():
        a = arrays[branch]
        if a.ndim != 2:
            raise ValueError(f"{path}: branch {branch!r} has type {a.type}; expected a list of numbers per entry")
        n = ak.to_numpy(ak.num(a, axis=1)).astype(np.int64)
        values = ak.to_numpy(ak.flatten(a, axis=1))
        if values.dtype.kind not in "fiu":
            raise ValueError(f"{path}: branch {branch!r} has type {a.type}; expected numbers")
        if counts is None:
            counts, first = n, branch
        elif not np.array_equal(n, counts):
            e = start + int(np.argmax(n != counts))
            raise ValueError(f"{path}: entry {e}: branch {branch!r} has {n[e - start]} values but {first!r} "
                             f"has {counts[e - start]}; expected lists of equal length")
        values = values.astype(np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            e = start + int(np.searchsorted(np.cumsum(counts), np.argmax(bad), side="right"))
            raise ValueError(f"{path}: entry {e}: branch {branch!r} holds a non-finite value "
                             f"({int(bad.sum())} in this chunk)")
        flat[key] = values
    return flat, counts


def _branch_map(branches: Mapping[str, str], parameter: str) -> dict[str, str]:
    """Validated {kinematic key: branch}: pt, eta and phi required, mass optional, nothing else."""
    branches = dict(branches)
    missing = [k for k in KINEMATICS[:3] if k not in branches]
    unknown = [k for k in branches if k not in KINEMATICS]
    if missing or unknown:
        raise ValueError(f"{parameter} must map pt, eta, phi (and optionally mass) to branch names; "
                         f"missing {missing}, unknown keys {unknown} in {branches}")
    return {k: str(branches[k]) for k in KINEMATICS if k in branches}


# ---------------------------------------------------------------------------------------------
# jets from flat candidate arrays


class _JetCollector:
    """Accumulates per-chunk jets, applying the min/max-constituents policy and sorting by pT."""

    def __init__(self, keys, min_constituents: int, max_constituents: int | None):
        if int(min_constituents) != min_constituents or min_constituents < 0:
            raise ValueError(f"min_constituents must be an integer >= 0, got {min_constituents!r}")
        if max_constituents is not None and (int(max_constituents) != max_constituents or max_constituents < 1):
            raise ValueError(f"max_constituents must be None or an integer >= 1, got {max_constituents!r}")
        self.keys, self.min, self.max = list(keys), int(min_constituents), max_constituents
        self.parts, self.read, self.dropped = [], 0, 0

    def add(self, flat: dict, take: np.ndarray, counts: np.ndarray, file: int, entry: np.ndarray,
            jet: np.ndarray) -> None:
        """Jets whose constituents are ``flat[key][take]``, ``counts[j]`` of them per jet in order."""
        counts = np.asarray(counts, np.int64)
        self.read += counts.size
        keep = counts >= self.min
        self.dropped += int((~keep).sum())
        take, counts = np.asarray(take, np.int64)[np.repeat(keep, counts)], counts[keep]
        owner = np.repeat(np.arange(counts.size), counts)
        order = np.lexsort((-flat["pt"][take], owner))  # by jet, then decreasing pT (stable)
        take = take[order]
        kept = counts if self.max is None else np.minimum(counts, self.max)
        rank = np.arange(take.size) - np.repeat(np.cumsum(counts) - counts, counts)
        take = take[rank < kept[owner]]
        fields = {k: ak.unflatten(flat[k][take], kept) for k in self.keys}
        fields.update(n_constituents=counts, file=np.full(counts.size, file, np.int64),
                      entry=np.asarray(entry, np.int64)[keep], jet=np.asarray(jet, np.int64)[keep])
        self.parts.append(ak.zip(fields, depth_limit=1))

    def result(self, files: list[str], tree: str, events: int) -> tuple[ak.Array, dict]:
        """The jets of all chunks and the info dict (module docstring)."""
        if not self.parts:
            empty = np.zeros(0, np.int64)
            self.add({k: np.zeros(0) for k in self.keys}, empty, empty, -1, empty, empty)
        jets = ak.concatenate(self.parts) if len(self.parts) > 1 else self.parts[0]
        info = {"files": list(files), "tree": tree, "events": int(events), "jets_read": int(self.read),
                "jets": len(jets), "dropped_few_constituents": int(self.dropped),
                "min_constituents": self.min, "max_constituents": self.max}
        return jets, info


# ---------------------------------------------------------------------------------------------
# readers


def read_candidates_clustered(files, tree: str, branches: Mapping[str, str], *, R: float = 0.8,
                              ptmin: float = 20.0, jets: str = "leading", min_constituents: int = 2,
                              max_constituents: int | None = None, step_size=DEFAULT_STEP_SIZE,
                              progress: bool = True) -> tuple[ak.Array, dict]:
    """Per-event candidates clustered into jets: anti-kT with radius ``R``, E-scheme, scikit-hep
    ``fastjet``; jets with pT >= ``ptmin`` GeV (the jet's pT from the summed four-vector).

    ``branches``: {"pt", "eta", "phi", "mass" (optional; massless candidates without it)} ->
    branch names of per-event candidate lists in ``tree``. ``jets``: "leading" keeps the
    highest-pT jet of each event (dropped, not replaced, if it has fewer than
    ``min_constituents``), "all" keeps every jet; ``jet`` in the output is the jet's rank by pT in
    its event (0 = leading). Constituents carry the candidates' own pt, eta, phi, mass.
    Returns (jets, info) as in the module docstring.
    """
    import fastjet  # only this reader needs it

    if jets not in ("leading", "all"):
        raise ValueError(f"jets must be 'leading' or 'all', got {jets!r}")
    if not R > 0:
        raise ValueError(f"R must be > 0, got {R!r}")
    names = _branch_map(branches, "branches")
    files = root_files(files)
    out, events = _JetCollector(names, min_constituents, max_constituents), 0
    jet_def = fastjet.JetDefinition(fastjet.antikt_algorithm, float(R))
    for i, start, arrays in _iterate(files, tree, list(names.values()), step_size, progress, "clustering"):
        flat, counts = _lists(arrays, names, files[i], start)
        events += counts.size
        pt, eta, phi = flat["pt"], flat["eta"], flat["phi"]
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        m2 = flat["mass"] ** 2 if "mass" in flat else 0.0
        p4 = ak.unflatten(ak.zip({"px": px, "py": py, "pz": pz, "E": np.sqrt(px**2 + py**2 + pz**2 + m2)}), counts)
        sequence = fastjet.ClusterSequence(p4, jet_def)
        found = sequence.inclusive_jets(min_pt=float(ptmin))
        index = sequence.constituent_index(min_pt=float(ptmin))
        rank = ak.argsort(np.hypot(found.px, found.py), axis=1, ascending=False, stable=True)
        index = index[rank]
        if jets == "leading":
            index = index[:, :1]
        per_event = ak.to_numpy(ak.num(index, axis=1))
        event = np.repeat(np.arange(counts.size), per_event)
        per_jet = ak.to_numpy(ak.num(ak.flatten(index, axis=1), axis=1))
        offsets = np.cumsum(counts) - counts
        take = ak.to_numpy(ak.flatten(index, axis=None)).astype(np.int64) + np.repeat(offsets[event], per_jet)
        jet = np.arange(event.size) - np.repeat(np.cumsum(per_event) - per_event, per_event)
        out.add(flat, take, per_jet, i, start + event, jet)
    return out.result(files, tree, events)


def read_indexed(files, tree: str, candidate_branches: Mapping[str, str], jet_index_branch: str,
                 candidate_index_branch: str, *, jets: str = "all", min_constituents: int = 2,
                 max_constituents: int | None = None, step_size=DEFAULT_STEP_SIZE,
                 progress: bool = True) -> tuple[ak.Array, dict]:
    """NanoAOD/PFNano layout: per-event candidate lists plus an index table whose k-th row links
    jet ``jet_index_branch[k]`` to candidate ``candidate_index_branch[k]`` of the same event
    (e.g. FatJetPFCands_jetIdx / FatJetPFCands_pFCandsIdx with PFCands_pt/eta/phi/mass).

    ``candidate_branches``: {"pt", "eta", "phi", "mass" (optional)} -> branch names. ``jets``:
    "all" or "leading" (jet index 0, the leading jet in NanoAOD order). ``jet`` in the output is
    the jet index from the table; jets come in event order, then by jet index. A jet with no row
    in the table is not seen. Candidate indices outside [0, number of candidates) and negative
    jet indices are errors naming file, branch and entry. Returns (jets, info).
    """
    if jets not in ("leading", "all"):
        raise ValueError(f"jets must be 'leading' or 'all', got {jets!r}")
    names = _branch_map(candidate_branches, "candidate_branches")
    links = {"jet": jet_index_branch, "candidate": candidate_index_branch}
    files = root_files(files)
    out, events = _JetCollector(names, min_constituents, max_constituents), 0
    wanted = list(dict.fromkeys([*names.values(), *links.values()]))
    for i, start, arrays in _iterate(files, tree, wanted, step_size, progress, "reading jets"):
        path = files[i]
        flat, counts = _lists(arrays, names, path, start)
        table, n_links = _lists(arrays, links, path, start)
        events += counts.size
        event = np.repeat(np.arange(counts.size), n_links)
        jet, cand = table["jet"].astype(np.int64), table["candidate"].astype(np.int64)
        for bad, branch, expected in ((jet < 0, jet_index_branch, ">= 0"),
                                      ((cand < 0) | (cand >= counts[event]), candidate_index_branch,
                                       f"in [0, number of {names['pt']!r} values)")):
            if bad.any():
                k = int(np.argmax(bad))
                value = jet[k] if branch == jet_index_branch else cand[k]
                raise ValueError(f"{path}: entry {start + event[k]}: branch {branch!r} holds {value}; "
                                 f"expected {expected} ({int(bad.sum())} such value(s) in this chunk)")
        if jets == "leading":
            event, jet, cand = event[jet == 0], jet[jet == 0], cand[jet == 0]
        order = np.lexsort((jet, event))  # stable: table order within a jet
        event, jet = event[order], jet[order]
        take = cand[order] + (np.cumsum(counts) - counts)[event]
        new = np.ones(event.size, bool)
        new[1:] = (event[1:] != event[:-1]) | (jet[1:] != jet[:-1])
        first = np.flatnonzero(new)
        out.add(flat, take, np.diff(np.append(first, event.size)), i, start + event[first], jet[first])
    return out.result(files, tree, events)


def read_jagged(files, tree: str, branches: Mapping[str, str], *, drop_zero_pt: bool = True,
                min_constituents: int = 2, max_constituents: int | None = None,
                step_size=DEFAULT_STEP_SIZE, progress: bool = True) -> tuple[ak.Array, dict]:
    """Ntuples with one entry per jet: ``branches`` {"pt", "eta", "phi", "mass" (optional)} name
    lists (variable or fixed length) of the jet's constituents. ``drop_zero_pt``: constituents
    with pt == 0 (the padding of fixed-length layouts) are removed before the
    ``min_constituents`` policy. ``jet`` in the output is 0. Returns (jets, info)."""
    names = _branch_map(branches, "branches")
    files = root_files(files)
    out, events = _JetCollector(names, min_constituents, max_constituents), 0
    for i, start, arrays in _iterate(files, tree, list(names.values()), step_size, progress, "reading jets"):
        flat, counts = _lists(arrays, names, files[i], start)
        events += counts.size
        take = np.arange(flat["pt"].size)
        if drop_zero_pt:
            real = flat["pt"] != 0
            counts = np.bincount(np.repeat(np.arange(counts.size), counts)[real], minlength=counts.size)
            take = take[real]
        out.add(flat, take, counts, i, start + np.arange(counts.size), np.zeros(counts.size, np.int64))
    return out.result(files, tree, events)


_READERS = {"clustered": read_candidates_clustered, "indexed": read_indexed, "jagged": read_jagged}


def read_jets(files, config: Mapping, **overrides) -> tuple[ak.Array, dict]:
    """Read ``files`` with the reader and parameters of ``config`` (see EXAMPLE_CONFIGS: "reader"
    is "clustered", "indexed" or "jagged", the other keys are that reader's parameters);
    ``overrides`` replace or add parameters."""
    params = {**dict(config), **overrides}
    reader = params.pop("reader", None)
    if reader not in _READERS:
        raise ValueError(f"config 'reader' must be one of {sorted(_READERS)}, got {reader!r}")
    return _READERS[reader](files, **params)


# ---------------------------------------------------------------------------------------------
# TopoDNN preprocessing (Pearkes et al. 2017, arXiv 1704.02124)


_TOPODNN_CONSTANT = ("eta_0", "phi_0", "eta_1")  # 0 for every jet after topodnn_transform


def _constituent_names(n_constituents: int) -> list[str]:
    """pt_i, eta_i, phi_i for i = 0 .. n_constituents - 1, constituent-major."""
    if int(n_constituents) != n_constituents or n_constituents < 2:
        raise ValueError(f"n_constituents must be an integer >= 2, got {n_constituents!r}")
    return [f"{v}_{i}" for i in range(int(n_constituents)) for v in ("pt", "eta", "phi")]


def topodnn_feature_names(n_constituents: int = TOPODNN_N_CONSTITUENTS) -> list[str]:
    """Names of topodnn_preprocess's columns, in order: pt_i, eta_i, phi_i for i = 0, 1, ...,
    n_constituents - 1 (constituent-major), without the constants eta_0, phi_0 and eta_1; with 30
    constituents: pt_0, pt_1, phi_1, pt_2, eta_2, phi_2, ..., phi_29 (87 names)."""
    return [n for n in _constituent_names(n_constituents) if n not in _TOPODNN_CONSTANT]


def _jagged(values, name: str, n_jets: int | None) -> ak.Array:
    """``values`` (awkward/nested lists of per-jet lists, or a 2-D array) as an awkward array of
    float64 lists, one per jet, checked to be finite."""
    a = ak.Array(values) if not isinstance(values, ak.Array) else values
    if a.ndim != 2:
        raise ValueError(f"{name} must hold one list of constituents per jet (2 dimensions), got type {a.type}")
    if n_jets is not None and len(a) != n_jets:
        raise ValueError(f"{name} has {len(a)} jets, pt has {n_jets}")
    a = ak.values_astype(a, np.float64)
    bad = ak.to_numpy(ak.any(~np.isfinite(a), axis=1))
    if bad.any():
        raise ValueError(f"{name} holds non-finite values (jet {int(np.argmax(bad))})")
    return a


def topodnn_transform(pt, eta, phi, n_constituents: int = TOPODNN_N_CONSTITUENTS) -> np.ndarray:
    """TopoDNN geometry (docs/method.md section 3), returned as (n_jets, n_constituents, 3) float64 [pt
    (GeV, not scaled), eta, phi].

    ``pt``, ``eta``, ``phi``: per-jet constituent lists (awkward, nested lists or 2-D arrays with
    zero padding); constituents with pt == 0 are padding. Per jet: sort by decreasing pT and keep
    the n_constituents leading ones (zero-padded); translate eta and phi by those of constituent 0
    (phi difference wrapped into [-pi, pi)); rotate (px, py, pz) about the x axis by theta =
    atan2(py_1, pz_1) + pi/2 of constituent 1 and convert back to pT, eta, phi, so that
    constituent 1 has eta = 0 (set exactly, it is zero up to rounding) and phi <= 0; flip every
    eta if sum(pT_i * eta_i) < 0. Padding stays 0; a jet with one constituent is only translated.
    """
    _constituent_names(n_constituents)  # checks n_constituents
    a_pt = _jagged(pt, "pt", None)
    n = len(a_pt)
    a_eta, a_phi = _jagged(eta, "eta", n), _jagged(phi, "phi", n)
    lengths = ak.num(a_pt, axis=1)
    for name, a in (("eta", a_eta), ("phi", a_phi)):
        differ = ak.to_numpy(ak.num(a, axis=1) != lengths)
        if differ.any():
            raise ValueError(f"{name} and pt have different numbers of constituents in jet {int(np.argmax(differ))}")
    negative = ak.to_numpy(ak.any(a_pt < 0, axis=1))
    if negative.any():
        raise ValueError(f"pt holds negative values (jet {int(np.argmax(negative))}); expected pt >= 0")
    # sort every constituent of a jet by decreasing pT first, then keep the leading ones
    order = ak.argsort(a_pt, axis=1, ascending=False, stable=True)
    P, E, F = (ak.to_numpy(ak.fill_none(ak.pad_none(a[order], n_constituents, axis=1, clip=True), 0.0))
               for a in (a_pt, a_eta, a_phi))
    real = P > 0
    E = np.where(real, E - E[:, :1], 0.0)
    F = np.mod(F - F[:, :1] + np.pi, 2 * np.pi) - np.pi
    F = np.where(real, np.where(F >= np.pi, F - 2 * np.pi, F), 0.0)  # rounding can give +pi
    px, py, pz = P * np.cos(F), P * np.sin(F), P * np.sinh(E)
    theta = (np.arctan2(py[:, 1], pz[:, 1]) + np.pi / 2)[:, None]
    py, pz = py * np.cos(theta) - pz * np.sin(theta), py * np.sin(theta) + pz * np.cos(theta)
    pz[:, 1] = 0.0
    P = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        E = np.where(real, np.arcsinh(pz / P), 0.0)
    F = np.where(real, np.arctan2(py, px), 0.0)
    E = np.where((np.sum(P * E, axis=1) < 0)[:, None], -E, E)
    return np.stack([np.where(real, P, 0.0), E + 0.0, F + 0.0], axis=-1)  # + 0.0 turns -0.0 into 0.0


def topodnn_preprocess(pt, eta, phi, n_constituents: int = TOPODNN_N_CONSTITUENTS,
                       pt_scale: float = TOPODNN_PT_SCALE) -> np.ndarray:
    """TopoDNN inputs (docs/method.md section 3): topodnn_transform, pT divided by ``pt_scale`` (GeV), then
    the (n_jets, 3 * n_constituents - 3) float64 features named by topodnn_feature_names (87 for
    30 constituents); padded constituents are 0."""
    if not pt_scale > 0:
        raise ValueError(f"pt_scale must be > 0, got {pt_scale!r}")
    x = topodnn_transform(pt, eta, phi, n_constituents)
    x[..., 0] /= float(pt_scale)
    keep = [k for k, name in enumerate(_constituent_names(n_constituents)) if name not in _TOPODNN_CONSTANT]
    return x.reshape(len(x), -1)[:, keep]


def topodnn_frame(jets: ak.Array, n_constituents: int = TOPODNN_N_CONSTITUENTS,
                  pt_scale: float = TOPODNN_PT_SCALE) -> pd.DataFrame:
    """topodnn_preprocess of a reader's ``jets`` as a DataFrame: the named features, then the
    jets' ``file``, ``entry`` and ``jet`` columns."""
    X = topodnn_preprocess(jets.pt, jets.eta, jets.phi, n_constituents, pt_scale)
    df = pd.DataFrame(X, columns=topodnn_feature_names(n_constituents))
    for column in ("file", "entry", "jet"):
        df[column] = ak.to_numpy(jets[column])
    return df
