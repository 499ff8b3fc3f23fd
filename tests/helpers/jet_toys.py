"""Toy boosted jets written as ROOT files (uproot ``mktree``: TTrees) in the three layouts the
jet readers take: per-event candidates, PFNano-style candidates plus a jet-candidate index table,
and one entry per jet with constituent lists.

A jet of mass m and transverse momentum pT is made of ``prongs`` hard subjets (top-like: 3 prongs,
m = 173 GeV; W-like: 2 prongs, m = 80.4 GeV; QCD-like: 1 prong) whose momentum fractions z_i and
(eta, phi) offsets from the axis satisfy m^2 = pT^2 sum_{i<j} z_i z_j dR_ij^2 (small-angle,
massless prongs), each fragmented into 3-8 collinear constituents, plus 4-14 soft (0.5-4 GeV)
constituents within 0.6 of the axis: 10 to 38 constituents, all within 0.8 of the axis.
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import uproot

KINDS = {"top": (3, 173.0), "w": (2, 80.4), "qcd": (1, 0.0)}
CANDS = {"pt": "PFCands_pt", "eta": "PFCands_eta", "phi": "PFCands_phi", "mass": "PFCands_mass"}
INDEX = {"jet_index_branch": "FatJetPFCands_jetIdx", "candidate_index_branch": "FatJetPFCands_pFCandsIdx"}
JAGGED = {"pt": "jet_constituent_pt", "eta": "jet_constituent_eta", "phi": "jet_constituent_phi"}


def _wrap(phi):
    return np.mod(phi + np.pi, 2 * np.pi) - np.pi


def toy_jet(rng, kind: str, pt: float, eta: float, phi: float) -> dict:
    """One jet's constituents {"pt", "eta", "phi", "mass"} (float32) of ``kind`` top, w or qcd."""
    prongs, mass = KINDS[kind]
    while True:  # fractions and offsets redrawn until every prong lies within 0.55 of the axis
        z = rng.dirichlet([4.0] * prongs) if prongs > 1 else np.ones(1)
        off = rng.normal(size=(prongs, 2))
        off -= z @ off  # pT-weighted axis at the origin
        m2 = sum(z[i] * z[j] * np.sum((off[i] - off[j]) ** 2) for i in range(prongs) for j in range(i))
        if prongs > 1:
            off *= mass / (pt * np.sqrt(m2))
        if np.abs(off).max() < 0.55:
            break
    parts = []
    for share, (de, dp) in zip(z, off):
        n = int(rng.integers(3, 9))
        spread = rng.normal(0.0, 0.03, size=(n, 2))
        parts.append((rng.dirichlet([1.5] * n) * share * pt, eta + de + spread[:, 0], phi + dp + spread[:, 1]))
    n_soft = int(rng.integers(4, 15))
    r, a = 0.6 * np.sqrt(rng.random(n_soft)), rng.uniform(0, 2 * np.pi, n_soft)
    parts.append((rng.uniform(0.5, 4.0, n_soft), eta + r * np.cos(a), phi + r * np.sin(a)))
    out = {"pt": np.concatenate([p[0] for p in parts]), "eta": np.concatenate([p[1] for p in parts]),
           "phi": _wrap(np.concatenate([p[2] for p in parts]))}
    out["mass"] = np.full(out["pt"].size, 0.13957)
    order = rng.permutation(out["pt"].size)
    return {k: v[order].astype(np.float32) for k, v in out.items()}


def toy_events(n: int, kinds, seed: int, single_constituent: int = 0) -> list[dict]:
    """``n`` events, each a main jet of a kind drawn from ``kinds`` (pT 450-900 GeV, |eta| < 1.5),
    a softer recoil QCD jet opposite in phi (0.2-0.5 of its pT) and 10 soft isolated candidates
    at |eta| in [3, 4.5]. The first ``single_constituent`` events' main jet is one 300 GeV
    constituent (the small-jet policy drops it)."""
    rng = np.random.default_rng(seed)
    events = []
    for k in range(n):
        pt, eta, phi = rng.uniform(450, 900), rng.uniform(-1.5, 1.5), rng.uniform(-np.pi, np.pi)
        if k < single_constituent:
            main = {"pt": np.float32([300.0]), "eta": np.float32([eta]), "phi": np.float32([phi]),
                    "mass": np.float32([0.0])}
        else:
            main = toy_jet(rng, str(rng.choice(kinds)), pt, eta, phi)
        recoil = toy_jet(rng, "qcd", rng.uniform(0.2, 0.5) * pt, -0.3 * eta, _wrap(phi + np.pi))
        ue = {"pt": rng.uniform(0.3, 2.0, 10), "eta": rng.choice([-1, 1], 10) * rng.uniform(3.0, 4.5, 10),
              "phi": rng.uniform(-np.pi, np.pi, 10), "mass": np.zeros(10)}
        events.append({"jets": [main, recoil], "ue": {k: v.astype(np.float32) for k, v in ue.items()}})
    return events


def write_tree(path: Path, tree: str, branches: dict) -> Path:
    """A TTree (mktree + extend) with ``branches`` {name: (type string, array)}."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with uproot.recreate(path) as f:
        f.mktree(tree, {name: kind for name, (kind, _) in branches.items()})
        f[tree].extend({name: values for name, (_, values) in branches.items()})
    return path


def write_events(path: Path, events: list[dict], layout: str, seed: int = 0) -> Path:
    """``events`` in one ``layout``: "clustered" (tree Events, PFCands_* of all candidates,
    shuffled), "indexed" (the same plus FatJetPFCands_{jetIdx,pFCandsIdx}: jet 0 the main jet,
    1 the recoil) or "jagged" (tree jets, one entry per main jet, jet_constituent_*)."""
    rng = np.random.default_rng(seed)
    if layout == "jagged":
        mains = [e["jets"][0] for e in events]
        return write_tree(path, "jets", {JAGGED[k]: ("var * float32", ak.Array([j[k] for j in mains]))
                                         for k in JAGGED})
    cands, jet_idx, cand_idx = [], [], []
    for e in events:
        parts = [*e["jets"], e["ue"]]
        owner = np.concatenate([np.full(p["pt"].size, k) for k, p in enumerate(parts)])
        perm = rng.permutation(owner.size)
        cands.append({k: np.concatenate([p[k] for p in parts])[perm] for k in CANDS})
        owner = owner[perm]
        rows = rng.permutation(np.flatnonzero(owner < 2))
        jet_idx.append(owner[rows].astype(np.int32))
        cand_idx.append(rows.astype(np.int32))
    branches = {CANDS[k]: ("var * float32", ak.Array([c[k] for c in cands])) for k in CANDS}
    if layout == "indexed":
        branches[INDEX["jet_index_branch"]] = ("var * int32", ak.Array(jet_idx))
        branches[INDEX["candidate_index_branch"]] = ("var * int32", ak.Array(cand_idx))
    elif layout != "clustered":
        raise ValueError(f"unknown layout {layout!r}")
    return write_tree(path, "Events", branches)


def reader_config(layout: str) -> dict:
    """The ttww.reader config block for a layout written by write_events."""
    if layout == "jagged":
        return {"kind": "jagged", "tree": "jets", "branches": dict(JAGGED)}
    cfg = {"kind": layout, "tree": "Events", "branches": dict(CANDS), "jets": "leading"}
    return {**cfg, **INDEX} if layout == "indexed" else cfg


def write_toy_study(folder: Path, layout: str = "clustered", events_per_file: int = 300) -> dict[str, list[Path]]:
    """The toy TT vs WW study (docs/studies.md): tt (top-like) and ww (W-like) 4 files each, real
    (SingleMu-like: top, W and twice as many QCD jets) 2 files; each main jet a single constituent
    in the first 2 events of a file."""
    plan = {"tt": (["top"], 4), "ww": (["w"], 4), "real": (["top", "w", "qcd", "qcd"], 2)}
    out = {}
    for s, (name, (kinds, n)) in enumerate(plan.items()):
        out[name] = [write_events(Path(folder) / name / f"{name}{k}.root",
                                  toy_events(events_per_file, kinds, seed=1000 + 10 * s + k, single_constituent=2),
                                  layout, seed=k) for k in range(n)]
    return out


def write_large_toy(folder: Path, jets: int, layout: str = "jagged", files: int = 10) -> dict[str, list[Path]]:
    """A large toy of the two classes, ``jets`` events per class: tt (top-like) and ww (W-like),
    ``files`` files each, no single-constituent jets, no real-data sample; the paper-like size the
    size-scaling study reads (resources/configs/scaling_ttww.yaml: 60,000 per class, jagged)."""
    per_file = [len(part) for part in np.array_split(np.arange(jets), files)]
    out = {}
    for s, (name, kinds) in enumerate({"tt": ["top"], "ww": ["w"]}.items()):
        out[name] = [write_events(Path(folder) / name / f"{name}{k}.root",
                                  toy_events(n, kinds, seed=5000 + 100 * s + k), layout, seed=k)
                     for k, n in enumerate(per_file)]
    return out


if __name__ == "__main__":
    # python tests/helpers/jet_toys.py [folder]: the files resources/configs/ttww_toy.yaml reads;
    # python tests/helpers/jet_toys.py folder --jets N [--layout L]: write_large_toy (scaling_ttww.yaml)
    import argparse

    parser = argparse.ArgumentParser(description="Toy TT vs WW jets as ROOT files")
    parser.add_argument("folder", nargs="?", default="resources/data/ttww-toy")
    parser.add_argument("--jets", type=int, default=None, help="jets per class: the large two-class toy")
    parser.add_argument("--layout", default="jagged", choices=["clustered", "indexed", "jagged"],
                        help="the large toy's layout (default jagged)")
    args = parser.parse_args()
    written = (write_toy_study(Path(args.folder)) if args.jets is None
               else write_large_toy(Path(args.folder), args.jets, args.layout))
    for name, paths in written.items():
        print(name, [str(p) for p in paths])
