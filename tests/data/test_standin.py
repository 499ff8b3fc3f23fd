"""The smoothed-bootstrap stand-in (conservattack.data.standin): split first, resample within each
split (no test event copied into training), noise on continuous values only (markers, discrete
features and atoms kept exactly), marginals close to the real ones, seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from conservattack.data.higgs import FEATURES, MARKER, MARKER_BELOW_JETS, read_higgs
from conservattack.data.preprocessing import SPLITS, stratified_split
from conservattack.data.standin import (HIGGS_DISCRETE, SOURCE_EVENT, allocate, feature_plan, make_standin,
                                        prepare_higgs_standin, reflect, silverman_bandwidth)
from paths import SHARED

ATLAS = SHARED / "data/higgs-atlas-22889"


def higgs_like(n: int, seed: int = 0) -> pd.DataFrame:
    """Events with the Higgs features, their -999 places (MARKER_BELOW_JETS), PRI_jet_all_pt = 0
    without jets, labels, ids and weights: the structure the stand-in must keep."""
    rng = np.random.default_rng(seed)
    jets = rng.choice([0.0, 1.0, 2.0, 3.0], size=n, p=[0.4, 0.3, 0.2, 0.1])
    df = pd.DataFrame({f: rng.gamma(3.0, 20.0, n) for f in FEATURES})
    df["PRI_tau_eta"] = rng.uniform(-2.5, 2.5, n)
    df["PRI_jet_num"] = jets
    df["PRI_jet_all_pt"] = np.where(jets == 0, 0.0, df["PRI_jet_all_pt"] + 30.0)
    for f, below in MARKER_BELOW_JETS.items():
        undefined = rng.random(n) < 0.15 if below == 4 else jets < below
        df.loc[undefined, f] = MARKER
    df["label"] = (rng.random(n) < 0.34).astype(np.int64)
    df["event"] = np.arange(100_000, 100_000 + n, dtype=np.int64)
    df["weight"] = rng.uniform(0.001, 2.0, n)
    return df


@pytest.fixture(scope="module")
def real():
    return higgs_like(3000, seed=1)


@pytest.fixture(scope="module")
def standin(real):
    return make_standin(real, 20_000, FEATURES, split_seed=5, seed=6, discrete=HIGGS_DISCRETE)


def test_counts_keep_the_split_proportions_and_the_labels(real, standin):
    raw = stratified_split(real, (0.6, 0.2, 0.2), seed=5)
    assert sum(len(standin["splits"][s]) for s in SPLITS) == 20_000
    for s in SPLITS:
        part = standin["splits"][s]
        assert len(part) == pytest.approx(20_000 * len(raw[s]) / len(real), abs=1)
        assert part["label"].mean() == pytest.approx(raw[s]["label"].mean(), abs=1e-3)
    events = np.concatenate([standin["splits"][s]["event"] for s in SPLITS])
    assert (events == np.arange(20_000)).all()


def test_no_copy_of_a_test_event_in_another_split(real, standin):
    raw = stratified_split(real, (0.6, 0.2, 0.2), seed=5)
    sources = {s: set(standin["splits"][s][SOURCE_EVENT]) for s in SPLITS}
    for s in SPLITS:
        assert sources[s] <= set(raw[s]["event"]), s  # resampled within its own split
    assert not sources["test"] & sources["train"] and not sources["test"] & sources["val"]
    assert not sources["train"] & sources["val"]


def test_markers_jet_numbers_atoms_labels_and_weights_are_those_of_the_copied_event(real, standin):
    by_id = real.set_index("event")
    for s in SPLITS:
        part = standin["splits"][s]
        source = by_id.loc[part[SOURCE_EVENT].to_numpy()]
        for f in FEATURES:
            assert ((part[f].to_numpy() == MARKER) == (source[f].to_numpy() == MARKER)).all(), f
        assert (part["PRI_jet_num"].to_numpy() == source["PRI_jet_num"].to_numpy()).all()
        zero = source["PRI_jet_all_pt"].to_numpy() == 0.0  # an atom: no noise
        assert (part["PRI_jet_all_pt"].to_numpy()[zero] == 0.0).all()
        assert (part["PRI_jet_all_pt"].to_numpy()[~zero] >= 30.0).all()  # reflected into the range
        assert (part["label"].to_numpy() == source["label"].to_numpy()).all()
        assert (part["weight"].to_numpy() == source["weight"].to_numpy()).all()
        # continuous values moved (not a plain bootstrap), within the split's range
        x, x0 = part["PRI_tau_eta"].to_numpy(), source["PRI_tau_eta"].to_numpy()
        assert (x != x0).mean() > 0.99 and x.min() >= -2.5 and x.max() <= 2.5


def test_plan_sorts_discrete_marker_and_atom_values_from_continuous_ones(real):
    plan = feature_plan(real, FEATURES, HIGGS_DISCRETE)
    assert plan["PRI_jet_num"]["kind"] == "discrete"
    assert plan["PRI_jet_all_pt"]["atoms"] == [0.0] and plan["PRI_jet_all_pt"]["low"] >= 30.0
    assert plan["DER_mass_MMC"]["atoms"] == [MARKER] and plan["DER_mass_MMC"]["bandwidth"] > 0
    assert plan["PRI_tau_pt"]["atoms"] == []
    with pytest.raises(ValueError, match="not among the features"):
        feature_plan(real, FEATURES, ["nope"])


def test_seeded(real, standin):
    again = make_standin(real, 20_000, FEATURES, split_seed=5, seed=6, discrete=HIGGS_DISCRETE)
    other = make_standin(real, 20_000, FEATURES, split_seed=5, seed=7, discrete=HIGGS_DISCRETE)
    for s in SPLITS:
        pd.testing.assert_frame_equal(again["splits"][s], standin["splits"][s])
        assert not other["splits"][s][FEATURES].equals(standin["splits"][s][FEATURES])


def test_bandwidth_zero_is_a_plain_bootstrap(real):
    plain = make_standin(real, 5000, FEATURES, split_seed=5, seed=6, discrete=HIGGS_DISCRETE, bandwidth_factor=0.0)
    by_id = real.set_index("event")
    part = plain["splits"]["train"]
    assert (part[FEATURES].to_numpy() == by_id.loc[part[SOURCE_EVENT].to_numpy(), FEATURES].to_numpy()).all()


def test_helpers():
    assert allocate(10, [1, 1, 1]).tolist() == [4, 3, 3] and allocate(250_000, [0.6, 0.2, 0.2]).sum() == 250_000
    x = np.random.default_rng(0).normal(0, 2.0, 100_000)
    assert silverman_bandwidth(x) == pytest.approx(0.9 * 2.0 * 100_000 ** -0.2, rel=0.02)
    assert silverman_bandwidth([1.0]) == 0.0
    assert reflect(np.array([-0.5, 0.5, 1.25, 3.0]), 0.0, 1.0).tolist() == [0.5, 0.5, 0.75, 0.0]


def test_prepared_higgs_standin_is_scaled_on_its_training_split(real):
    prepared = prepare_higgs_standin(real, events=5000, split_seed=5, seed=6, missing_policy="shift")
    train = prepared["splits"]["train"][FEATURES].to_numpy()
    assert train.min() == 0.0 and train.max() == 1.0
    assert prepared["missing"]["policy"] == "shift" and "DER_mass_MMC" in prepared["missing"]["replacement"]
    assert sum(c["events"] for c in prepared["counts"].values()) == 5000
    assert prepared["counts"]["test"]["real_events"] == 600


@pytest.mark.skipif(not ATLAS.is_dir(), reason="the real Higgs sample (../shared/data/higgs-atlas-22889) is absent")
def test_marginals_and_correlations_close_to_the_real_events():
    df = read_higgs(ATLAS)
    made = make_standin(df, 100_000, FEATURES, split_seed=3, seed=4, discrete=HIGGS_DISCRETE)
    raw = stratified_split(df, (0.6, 0.2, 0.2), seed=3)
    for s in SPLITS:
        real, part = raw[s], made["splits"][s]
        for f in FEATURES:
            x, y = real[f].to_numpy(), part[f].to_numpy()
            assert (x == MARKER).mean() == pytest.approx((y == MARKER).mean(), abs=0.01), (s, f)
            x, y = x[x != MARKER], y[y != MARKER]
            # the bootstrap's sampling error (about 1/sqrt of the real split) plus the smoothing
            assert ks_2samp(x, y).statistic < 0.035, (s, f)
            assert np.mean(y) == pytest.approx(np.mean(x), abs=0.03 * np.std(x)), (s, f)
        C0, C1 = real[FEATURES].corr().to_numpy(), part[FEATURES].corr().to_numpy()
        assert np.abs(C1 - C0).max() < 0.05, s  # 4,578 real events behind val and test
