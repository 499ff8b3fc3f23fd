"""Jet-constituent readers (clustered candidates, PFNano index tables, jagged ntuples) on small
seeded ROOT files in each layout and on the real shared PFNano sample where it is present; the
TopoDNN preprocessing and its invariants; every bad input."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from conservattack.data.jets import (EXAMPLE_CONFIGS, read_candidates_clustered, read_indexed, read_jagged, read_jets, topodnn_feature_names, topodnn_frame, topodnn_preprocess, topodnn_transform)
from paths import SHARED

PFNANO = SHARED / "data/cms-pfnano-sample/pfnano.root"
N_EVENTS = 24
CANDS = {"pt": "cand_pt", "eta": "cand_eta", "phi": "cand_phi", "mass": "cand_m"}
INDEX = {"jet_index_branch": "JetCand_jetIdx", "candidate_index_branch": "JetCand_candIdx"}
JAGGED = {"pt": "c_pt", "eta": "c_eta", "phi": "c_phi"}


# ---------------------------------------------------------------------------------------------
# toy events


def _disc(rng, n: int, radius: float):
    """n points uniform in a disc of ``radius`` in (eta, phi): offsets (d_eta, d_phi)."""
    r, a = radius * np.sqrt(rng.random(n)), rng.uniform(0, 2 * np.pi, n)
    return r * np.cos(a), r * np.sin(a)


def toy_jet(rng, prongs: int, pt: float, eta: float, phi: float) -> dict:
    """A 2- or 3-prong jet: 2-4 hard constituents per prong near a subjet axis within 0.2 of the
    jet axis, plus 5-20 soft ones (0.5-5 GeV) within 0.3; all within 0.3 of the axis (so anti-kT
    R = 0.8 clusters exactly these). Float32 values, as written to the files."""
    parts_pt, parts_eta, parts_phi = [], [], []
    for share in rng.dirichlet([3.0] * prongs):
        de, dp = _disc(rng, 1, 0.2)
        n = int(rng.integers(2, 5))
        he, hp = _disc(rng, n, 0.05)
        parts_pt.append(rng.dirichlet([2.0] * n) * share * pt)
        parts_eta.append(eta + de + 0.5 * he)
        parts_phi.append(phi + dp + 0.5 * hp)
    n_soft = int(rng.integers(5, 21))
    se, sp = _disc(rng, n_soft, 0.3)
    parts_pt.append(rng.uniform(0.5, 5.0, n_soft))
    parts_eta.append(eta + se)
    parts_phi.append(phi + sp)
    out = {"pt": np.concatenate(parts_pt), "eta": np.concatenate(parts_eta), "phi": np.concatenate(parts_phi)}
    out["phi"] = np.mod(out["phi"] + np.pi, 2 * np.pi) - np.pi
    out["mass"] = np.full(out["pt"].size, 0.13957)
    return {k: v.astype(np.float32) for k, v in out.items()}


def toy_events(n: int = N_EVENTS, seed: int = 7) -> list[dict]:
    """Events of two back-to-back toy jets (ordered by summed pT, index 0 the harder) plus 3 soft
    (< 5 GeV) isolated candidates at |eta| > 3.5 that no 20 GeV jet contains."""
    rng = np.random.default_rng(seed)
    events = []
    for _ in range(n):
        eta, phi = rng.uniform(-1.5, 1.5), rng.uniform(-np.pi, np.pi)
        jets = [toy_jet(rng, int(rng.integers(2, 4)), rng.uniform(400, 900), eta, phi),
                toy_jet(rng, int(rng.integers(2, 4)), rng.uniform(300, 800), -0.5 * eta, phi + np.pi)]
        jets.sort(key=lambda j: -np.hypot(np.sum(j["pt"] * np.cos(j["phi"])), np.sum(j["pt"] * np.sin(j["phi"]))))
        ue = {"pt": rng.uniform(0.5, 4.0, 3), "eta": rng.choice([-1, 1], 3) * rng.uniform(3.5, 4.5, 3),
              "phi": rng.uniform(-np.pi, np.pi, 3), "mass": np.zeros(3)}
        events.append({"jets": jets, "ue": {k: v.astype(np.float32) for k, v in ue.items()}})
    return events


def write_tree(path: Path, tree: str, branches: dict) -> Path:
    """A TTree (mktree + extend) with ``branches`` {name: (type string, array)}."""
    with uproot.recreate(path) as f:
        f.mktree(tree, {name: kind for name, (kind, _) in branches.items()})
        f[tree].extend({name: values for name, (_, values) in branches.items()})
    return path


def _candidates(event: dict, rng) -> tuple[dict, np.ndarray, np.ndarray]:
    """The event's candidates shuffled, with (jet index, candidate index) rows for its jets."""
    parts = [*event["jets"], event["ue"]]
    owner = np.concatenate([np.full(p["pt"].size, k) for k, p in enumerate(parts)])
    perm = rng.permutation(owner.size)
    cands = {k: np.concatenate([p[k] for p in parts])[perm] for k in ("pt", "eta", "phi", "mass")}
    owner = owner[perm]
    rows = rng.permutation(np.flatnonzero(owner < 2))
    return cands, owner[rows], rows


def write_layouts(folder: Path, events: list[dict], seed: int = 3) -> dict:
    """The toy events in the three layouts, two files each (events split in half); in the indexed
    layout the first event has an extra jet (index 2) linked to one candidate, and the jagged
    layout has one extra one-constituent jet at the end."""
    rng = np.random.default_rng(seed)
    half = len(events) // 2
    files = {"clustered": [], "indexed": [], "jagged": []}
    for part, chunk in enumerate((events[:half], events[half:])):
        per_event = [_candidates(e, rng) for e in chunk]
        if part == 0:
            cands, jet, cand = per_event[0]
            per_event[0] = (cands, np.append(jet, 2), np.append(cand, np.flatnonzero(cands["pt"] < 5)[0]))
        cand_arrays = {CANDS[k]: ("var * float32", ak.Array([c[k] for c, _, _ in per_event])) for k in CANDS}
        files["clustered"].append(write_tree(folder / f"cands{part}.root", "pf", cand_arrays))
        index = {INDEX["jet_index_branch"]: ("var * int32", ak.Array([j.astype(np.int32) for _, j, _ in per_event])),
                 INDEX["candidate_index_branch"]: ("var * int32",
                                                   ak.Array([c.astype(np.int32) for _, _, c in per_event]))}
        files["indexed"].append(write_tree(folder / f"nano{part}.root", "Events", {**cand_arrays, **index}))
        jets = [j for e in chunk for j in e["jets"]]
        if part == 1:
            jets.append({k: np.array([7.0], np.float32) for k in ("pt", "eta", "phi")})
        orders = [rng.permutation(j["pt"].size) for j in jets]
        jagged = {JAGGED[k]: ("var * float32", ak.Array([j[k][o] for j, o in zip(jets, orders)])) for k in JAGGED}
        files["jagged"].append(write_tree(folder / f"jets{part}.root", "jets", jagged))
    return files


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    events = toy_events()
    return events, write_layouts(tmp_path_factory.mktemp("jets"), events)


def sorted_jet(jet: dict) -> dict:
    """The jet's constituents by decreasing pT (stable), float64."""
    order = np.argsort(-jet["pt"], kind="stable")
    return {k: v[order].astype(np.float64) for k, v in jet.items()}


def assert_same_jet(read, expected: dict, fields=("pt", "eta", "phi")) -> None:
    exp = sorted_jet(expected)
    for k in fields:
        np.testing.assert_array_equal(ak.to_numpy(read[k]), exp[k])


# ---------------------------------------------------------------------------------------------
# readers on the toy layouts


def test_clustered_reader_finds_the_generated_jets(toy):
    events, files = toy
    jets, info = read_candidates_clustered(files["clustered"], "pf", CANDS, R=0.8, ptmin=20.0, jets="all",
                                           step_size=5, progress=False)
    assert info["events"] == N_EVENTS and info["jets"] == 2 * N_EVENTS and info["dropped_few_constituents"] == 0
    assert jets.fields == ["pt", "eta", "phi", "mass", "n_constituents", "file", "entry", "jet"]
    half = N_EVENTS // 2
    np.testing.assert_array_equal(ak.to_numpy(jets.file), np.repeat([0, 1], N_EVENTS))
    np.testing.assert_array_equal(ak.to_numpy(jets.entry), np.tile(np.repeat(np.arange(half), 2), 2))
    np.testing.assert_array_equal(ak.to_numpy(jets.jet), np.tile([0, 1], N_EVENTS))
    for k, jet in enumerate(jets):
        expected = events[k // 2]["jets"][k % 2]
        assert jet.n_constituents == expected["pt"].size
        assert_same_jet(jet, expected, ("pt", "eta", "phi", "mass"))
    leading, info = read_candidates_clustered(files["clustered"], "pf", CANDS, jets="leading", progress=False)
    assert info["jets"] == N_EVENTS
    assert ak.all(leading.jet == 0)
    for k, jet in enumerate(leading):
        assert_same_jet(jet, events[k]["jets"][0])


def test_clustered_reader_massless_and_ptmin(toy):
    events, files = toy
    massless = {k: v for k, v in CANDS.items() if k != "mass"}
    jets, info = read_candidates_clustered(files["clustered"][0], "pf", massless, ptmin=1e4, jets="all",
                                           progress=False)
    assert info["jets"] == 0 and info["jets_read"] == 0 and len(jets) == 0 and "mass" not in jets.fields
    jets, info = read_candidates_clustered(files["clustered"][0], "pf", massless, ptmin=0.1, jets="all",
                                           min_constituents=1, progress=False)
    assert info["jets"] > 2 * (N_EVENTS // 2)  # the isolated soft candidates form jets of their own


def test_indexed_reader_groups_by_jet_and_drops_small_jets(toy):
    events, files = toy
    jets, info = read_indexed(files["indexed"], "Events", CANDS, **INDEX, step_size=7, progress=False)
    assert info["jets_read"] == 2 * N_EVENTS + 1 and info["dropped_few_constituents"] == 1
    assert info["jets"] == len(jets) == 2 * N_EVENTS and info["min_constituents"] == 2
    np.testing.assert_array_equal(ak.to_numpy(jets.jet), np.tile([0, 1], N_EVENTS))
    for k, jet in enumerate(jets):
        assert_same_jet(jet, events[k // 2]["jets"][k % 2], ("pt", "eta", "phi", "mass"))
    kept, info = read_indexed(files["indexed"][0], "Events", CANDS, **INDEX, min_constituents=1, progress=False)
    assert info["dropped_few_constituents"] == 0 and list(kept.jet[:3]) == [0, 1, 2] and kept.n_constituents[2] == 1
    leading, info = read_indexed(files["indexed"], "Events", CANDS, **INDEX, jets="leading", max_constituents=5,
                                 progress=False)
    assert info["jets"] == N_EVENTS and ak.all(leading.jet == 0)
    assert ak.all(ak.num(leading.pt) == 5) and ak.all(leading.n_constituents > 5)
    for k, jet in enumerate(leading):
        np.testing.assert_array_equal(ak.to_numpy(jet.pt), sorted_jet(events[k]["jets"][0])["pt"][:5])


def test_jagged_reader_sorts_and_matches_indexed(toy):
    events, files = toy
    jets, info = read_jagged(files["jagged"], "jets", JAGGED, step_size=9, progress=False)
    assert info["events"] == 2 * N_EVENTS + 1 and info["dropped_few_constituents"] == 1
    assert "mass" not in jets.fields and ak.all(jets.jet == 0)
    np.testing.assert_array_equal(ak.to_numpy(jets.entry), np.tile(np.arange(N_EVENTS), 2))
    indexed, _ = read_indexed(files["indexed"], "Events", CANDS, **INDEX, progress=False)
    for k in ("pt", "eta", "phi"):
        assert ak.all(jets[k] == indexed[k])


def test_jagged_reader_fixed_length_padding(tmp_path):
    pt = np.array([[5.0, 3.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0], [1.0, 4.0, 2.0, 0.0]], np.float32)
    eta, phi = np.full_like(pt, 0.5), np.full_like(pt, 1.0)
    fixed = np.dtype(("f4", (4,)))
    path = write_tree(tmp_path / "fixed.root", "t", {"p": (fixed, pt), "e": (fixed, eta), "f": (fixed, phi)})
    jets, info = read_jagged(path, "t", {"pt": "p", "eta": "e", "phi": "f"}, progress=False)
    assert ak.to_list(jets.pt) == [[5.0, 3.0], [4.0, 2.0, 1.0]] and info["dropped_few_constituents"] == 1
    _, info = read_jagged(path, "t", {"pt": "p", "eta": "e", "phi": "f"}, drop_zero_pt=False, progress=False)
    assert info["jets"] == 3


def test_read_jets_dispatches_a_config(toy):
    _, files = toy
    config = {"reader": "indexed", "tree": "Events", "candidate_branches": CANDS, **INDEX}
    jets, info = read_jets(files["indexed"], config, progress=False)
    assert info["jets"] == 2 * N_EVENTS
    with pytest.raises(ValueError, match="reader"):
        read_jets(files["indexed"], {"tree": "Events"})
    assert {c["reader"] for c in EXAMPLE_CONFIGS.values()} == {"clustered", "indexed", "jagged"}


# ---------------------------------------------------------------------------------------------
# TopoDNN


def check_topodnn(pt, eta, phi) -> np.ndarray:
    """The docs/method.md section 3 invariants on topodnn_transform/preprocess of these jets; the features."""
    T = topodnn_transform(pt, eta, phi)
    X = topodnn_preprocess(pt, eta, phi)
    n = np.minimum(ak.to_numpy(ak.num(ak.Array(pt), axis=1)), 30)
    assert T.shape == (len(n), 30, 3) and X.shape == (len(n), 87) and X.dtype == np.float64
    assert np.isfinite(T).all() and np.isfinite(X).all()
    assert (T[:, 0, 1:] == 0).all()
    assert (np.abs(T[:, 1, 1]) <= 1e-12).all() and (T[:, 1, 2] <= 0).all()
    assert (np.sum(T[..., 0] * T[..., 1], axis=1) >= 0).all()
    padding = np.arange(30)[None, :] >= n[:, None]
    assert (T[padding] == 0).all() and (T[~padding][:, 0] > 0).all()
    names = topodnn_feature_names()
    np.testing.assert_array_equal(X[:, names.index("pt_5")], T[:, 5, 0] / 1679.16)
    np.testing.assert_array_equal(X[:, names.index("phi_1")], T[:, 1, 2])
    return X


def test_topodnn_on_every_reader(toy):
    _, files = toy
    for jets, _ in (read_candidates_clustered(files["clustered"], "pf", CANDS, jets="all", progress=False),
                    read_indexed(files["indexed"], "Events", CANDS, **INDEX, progress=False),
                    read_jagged(files["jagged"], "jets", JAGGED, progress=False)):
        assert ak.any(ak.num(jets.pt) < 30) and ak.any(ak.num(jets.pt) > 30)  # padded and cut jets
        check_topodnn(jets.pt, jets.eta, jets.phi)
        df = topodnn_frame(jets)
        assert list(df.columns) == [*topodnn_feature_names(), "file", "entry", "jet"] and len(df) == len(jets)


def test_topodnn_invariant_under_global_phi_and_eta_shifts(toy):
    _, files = toy
    jets, _ = read_jagged(files["jagged"], "jets", JAGGED, progress=False)
    X = topodnn_preprocess(jets.pt, jets.eta, jets.phi)
    for shift in (1.234, -2.9, np.pi):
        wrapped = np.mod(jets.phi + shift + np.pi, 2 * np.pi) - np.pi
        np.testing.assert_allclose(topodnn_preprocess(jets.pt, jets.eta, jets.phi + shift), X, atol=1e-9)
        np.testing.assert_allclose(topodnn_preprocess(jets.pt, jets.eta, wrapped), X, atol=1e-9)
    np.testing.assert_allclose(topodnn_preprocess(jets.pt, jets.eta + 0.7, jets.phi), X, atol=1e-9)


def test_topodnn_worked_example():
    """Constituent 1 at the same eta as constituent 0: theta = pi, so py flips and pT is kept;
    constituent 2 gets eta -0.3 from the rotation and +0.3 from the flip."""
    T = topodnn_transform([[50.0, 100.0, 10.0]], [[0.5, 0.5, 0.8]], [[1.2, 1.0, 1.0]], n_constituents=4)
    np.testing.assert_allclose(T[0], [[100, 0, 0], [50, 0, -0.2], [10, 0.3, 0], [0, 0, 0]], atol=1e-12)


def test_topodnn_keeps_the_hardest_constituents_of_an_unsorted_jet():
    """A jet of 40 constituents in rising pT: the 30 kept are the 30 hardest, not the first 30."""
    rng = np.random.default_rng(2)
    pt = np.arange(1.0, 41.0)
    eta, phi = rng.uniform(-1, 1, 40), rng.uniform(-np.pi, np.pi, 40)
    T = topodnn_transform([pt], [eta], [phi])
    hard = np.argsort(-pt, kind="stable")[:30]
    ref = topodnn_transform([pt[hard]], [eta[hard]], [phi[hard]])  # already sorted, 30 long
    np.testing.assert_array_equal(T, ref)
    assert T[0, 0, 0] == 40.0


def test_topodnn_rotation_keeps_momentum_and_changes_pt(toy):
    _, files = toy
    jets, _ = read_jagged(files["jagged"], "jets", JAGGED, progress=False)
    T = topodnn_transform(jets.pt, jets.eta, jets.phi)
    pt = ak.to_numpy(ak.fill_none(ak.pad_none(jets.pt, 30, clip=True), 0.0))
    deta = ak.to_numpy(ak.fill_none(ak.pad_none(jets.eta - ak.firsts(jets.eta), 30, clip=True), 0.0))
    np.testing.assert_allclose(T[..., 0] * np.cosh(T[..., 1]), pt * np.cosh(deta), rtol=1e-10)
    assert not np.allclose(T[:, 1, 0], pt[:, 1])


def test_topodnn_inputs_and_edge_cases():
    assert len(topodnn_feature_names()) == 87 and topodnn_feature_names()[:4] == ["pt_0", "pt_1", "phi_1", "pt_2"]
    assert topodnn_feature_names()[-1] == "phi_29" and len(set(topodnn_feature_names())) == 87
    X = topodnn_preprocess(np.array([[30.0, 0.0], [0.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 0.0]]),
                           np.array([[2.0, 0.0], [0.0, 0.0]]), n_constituents=2)
    np.testing.assert_array_equal(X, [[30.0 / 1679.16, 0.0, 0.0], [0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="n_constituents"):
        topodnn_feature_names(1)
    with pytest.raises(ValueError, match="eta and pt have different numbers"):
        topodnn_transform([[1.0, 2.0]], [[0.0]], [[0.0, 0.0]])
    with pytest.raises(ValueError, match="phi holds non-finite"):
        topodnn_transform([[1.0, 2.0]], [[0.0, 1.0]], [[0.0, np.nan]])
    with pytest.raises(ValueError, match="negative"):
        topodnn_transform([[1.0, -2.0]], [[0.0, 1.0]], [[0.0, 0.0]])
    with pytest.raises(ValueError, match="pt_scale"):
        topodnn_preprocess([[1.0, 2.0]], [[0.0, 1.0]], [[0.0, 0.0]], pt_scale=0)


# ---------------------------------------------------------------------------------------------
# the real CMS PFNano sample


@pytest.fixture
def pfnano():
    if not PFNANO.is_file():
        pytest.skip(f"real PFNano sample {PFNANO} absent")
    return PFNANO


def test_pfnano_indexed_fatjets(pfnano):
    jets, info = read_jets(pfnano, EXAMPLE_CONFIGS["pfnano_fatjet"], progress=False)
    links = uproot.open(pfnano)["Events"]["nFatJetPFCands"].array(library="np")
    assert info["events"] == 10 and info["jets"] > 0 and info["dropped_few_constituents"] == 0
    assert int(ak.sum(jets.n_constituents)) == int(links.sum())
    assert ak.all(jets.pt > 0) and ak.all(abs(jets.eta) < 5.5) and ak.all(ak.num(jets.pt) >= 2)
    assert ak.all(jets.pt[:, :-1] >= jets.pt[:, 1:])
    check_topodnn(jets.pt, jets.eta, jets.phi)


def test_pfnano_candidates_clustered(pfnano):
    jets, info = read_jets(pfnano, EXAMPLE_CONFIGS["pfnano_candidates"], ptmin=200.0, progress=False)
    fatjet_pt = uproot.open(pfnano)["Events"]["FatJet_pt"].array()[:, 0]
    assert info["jets"] == 10 and ak.all(jets.n_constituents > 20) and ak.all(jets.pt > 0)
    px, py = ak.sum(jets.pt * np.cos(jets.phi), axis=1), ak.sum(jets.pt * np.sin(jets.phi), axis=1)
    ratio = ak.to_numpy(np.hypot(px, py) / fatjet_pt)
    assert ((ratio > 0.7) & (ratio < 1.3)).all()  # re-clustered raw PF candidates vs the PUPPI AK8 jet
    check_topodnn(jets.pt, jets.eta, jets.phi)


@pytest.mark.parametrize("config", ["pfnano_fatjet", "pfnano_candidates"])
def test_pfnano_corrupt_lzma_basket_is_named(pfnano, tmp_path, config):
    """PFNano is LZMA-compressed: uproot decompresses it with cramjam, whose errors are no
    ValueError; a damaged basket is still an error naming the file."""
    seek = int(uproot.open(pfnano)["Events"]["PFCands_pt"].member("fBasketSeek")[0])
    data = bytearray(pfnano.read_bytes())
    data[seek + 150:seek + 400] = bytes(b ^ 0x5A for b in data[seek + 150:seek + 400])
    path = tmp_path / "corrupt.root"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{path}: truncated or corrupt ROOT file"):
        read_jets(path, EXAMPLE_CONFIGS[config], progress=False)


def test_pfnano_missing_branch_lists_close_names(pfnano):
    with pytest.raises(ValueError, match=r"no branch 'PFCands_ptt'.*closest to 'PFCands_ptt': \['PFCands_pt'"):
        read_candidates_clustered(pfnano, "Events", {**EXAMPLE_CONFIGS["pfnano_candidates"]["branches"],
                                                     "pt": "PFCands_ptt"}, progress=False)


# ---------------------------------------------------------------------------------------------
# bad input


def test_missing_branch_and_tree(toy):
    _, files = toy
    path = str(files["jagged"][0])
    with pytest.raises(ValueError, match="no branch 'c_ptt'") as err:
        read_jagged(files["jagged"], "jets", {**JAGGED, "pt": "c_ptt"}, progress=False)
    assert path in str(err.value) and "'c_pt'" in str(err.value) and "'c_eta'" in str(err.value)
    with pytest.raises(ValueError, match=r"no tree 'Events'; TTrees in the file: \['jets'\]") as err:
        read_jagged(files["jagged"], "Events", JAGGED, progress=False)
    assert path in str(err.value)
    with pytest.raises(ValueError, match="no branch 'JetCand_jetIdx'"):
        read_indexed(files["clustered"], "pf", CANDS, **INDEX, progress=False)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_root_file(toy, tmp_path, fraction):
    _, files = toy
    data = files["indexed"][1].read_bytes()
    cut = tmp_path / "cut.root"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ValueError, match="truncated or corrupt ROOT file") as err:
        read_indexed([files["indexed"][0], cut], "Events", CANDS, **INDEX, progress=False)
    assert str(cut) in str(err.value)


def test_corrupt_basket_named_while_reading(tmp_path):
    """Directory and tree intact, a data basket overwritten: the error comes from the chunked read."""
    values = ak.unflatten(np.random.default_rng(0).uniform(1, 2, 40_000).astype(np.float32), np.full(2_000, 20))
    path = write_tree(tmp_path / "big.root", "jets", {b: ("var * float32", values) for b in JAGGED.values()})
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 1000] = bytes(1000)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{path}: truncated or corrupt ROOT file \\(reading failed"):
        read_jagged(path, "jets", JAGGED, step_size=500, progress=False)


def test_non_root_and_absent_files(tmp_path):
    text = tmp_path / "notes.root"
    text.write_text("run,event\n1,2\n")
    with pytest.raises(ValueError, match="not a ROOT file") as err:
        read_jagged(text, "jets", JAGGED, progress=False)
    assert str(text) in str(err.value)
    empty = tmp_path / "empty.root"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=f"{empty}: not a ROOT file"):
        read_jagged(empty, "jets", JAGGED, progress=False)
    with pytest.raises(FileNotFoundError, match="absent.root"):
        read_jagged(tmp_path / "absent.root", "jets", JAGGED, progress=False)
    (tmp_path / "sub").mkdir()
    with pytest.raises(ValueError, match="sub: folder holds no"):
        read_jagged(tmp_path / "sub", "jets", JAGGED, progress=False)


def test_bad_branch_contents(tmp_path):
    jag = lambda rows: ak.Array([np.asarray(r, np.float32) for r in rows])  # noqa: E731
    idx = lambda rows: ak.Array([np.asarray(r, np.int32) for r in rows])  # noqa: E731
    path = write_tree(tmp_path / "bad.root", "t", {
        "pt": ("var * float32", jag([[1, 2], [3, 4]])), "eta": ("var * float32", jag([[1, 2], [3]])),
        "phi": ("var * float32", jag([[0, np.nan], [0, 0]])), "ok": ("var * float32", jag([[0, 0], [0, 0]])),
        "scalar": ("float32", np.array([1, 2], np.float32)),
        "jet": ("var * int32", idx([[0, 0], [0, -1]])), "cand": ("var * int32", idx([[0, 1], [0, 2]]))})
    with pytest.raises(ValueError, match=r"entry 1: branch 'eta' has 1 values but 'pt' has 2"):
        read_jagged(path, "t", {"pt": "pt", "eta": "eta", "phi": "ok"}, progress=False)
    with pytest.raises(ValueError, match=r"entry 0: branch 'phi' holds a non-finite value"):
        read_jagged(path, "t", {"pt": "pt", "eta": "ok", "phi": "phi"}, progress=False)
    with pytest.raises(ValueError, match=r"branch 'scalar' has type .*expected a list of numbers per entry"):
        read_jagged(path, "t", {"pt": "pt", "eta": "ok", "phi": "scalar"}, progress=False)
    cands = {"pt": "pt", "eta": "ok", "phi": "ok"}
    with pytest.raises(ValueError, match=r"entry 1: branch 'cand' holds 2; expected in \[0, number of 'pt'"):
        read_indexed(path, "t", cands, "ok", "cand", progress=False)
    with pytest.raises(ValueError, match=r"entry 1: branch 'jet' holds -1; expected >= 0"):
        read_indexed(path, "t", cands, "jet", "ok", progress=False)


def test_bad_parameters(toy):
    _, files = toy
    with pytest.raises(ValueError, match=r"branches must map pt, eta, phi.*missing \['phi'\], unknown keys \['e'\]"):
        read_jagged(files["jagged"], "jets", {"pt": "c_pt", "eta": "c_eta", "e": "c_eta"}, progress=False)
    with pytest.raises(ValueError, match="min_constituents"):
        read_jagged(files["jagged"], "jets", JAGGED, min_constituents=-1, progress=False)
    with pytest.raises(ValueError, match="max_constituents"):
        read_jagged(files["jagged"], "jets", JAGGED, max_constituents=0, progress=False)
    with pytest.raises(ValueError, match="jets must be 'leading' or 'all'"):
        read_candidates_clustered(files["clustered"], "pf", CANDS, jets="first", progress=False)
    with pytest.raises(ValueError, match="R must be > 0"):
        read_candidates_clustered(files["clustered"], "pf", CANDS, R=0, progress=False)
