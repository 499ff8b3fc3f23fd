"""Donut generation, the fixed stratified split and min-max scaling."""

import numpy as np
import pytest

from conservattack.data.donut import generate_donut
from conservattack.data.preprocessing import MinMaxScaler, scale_frame, stratified_split
from conservattack.pipeline.seeds import derived_seed


def test_donut_distributions():
    df = generate_donut(20_000, 20_000, seed=3)
    sig = df[df.label == 1][["x1", "x2"]].to_numpy()
    bkg = df[df.label == 0][["x1", "x2"]].to_numpy()
    assert len(sig) == len(bkg) == 20_000
    assert sig.mean(0) == pytest.approx([0, 0], abs=0.02)
    assert sig.std(0) == pytest.approx([0.5, 0.5], rel=0.03)
    r = np.hypot(bkg[:, 0], bkg[:, 1])
    assert r.mean() == pytest.approx(1.8, abs=0.03)  # |N(1.8, 0.5)| is N(1.8, 0.5) up to a 1e-4 tail
    assert r.std() == pytest.approx(0.5, rel=0.03)
    assert df.equals(generate_donut(20_000, 20_000, seed=3))
    assert not df.equals(generate_donut(20_000, 20_000, seed=4))
    with pytest.raises(ValueError, match="n_signal"):
        generate_donut(0, 10)


def test_split_is_stratified_disjoint_and_fixed():
    df = generate_donut(3000, 1000, seed=0)
    parts = stratified_split(df, (0.6, 0.2, 0.2), seed=9)
    sizes = {k: len(v) for k, v in parts.items()}
    assert sizes == {"train": 2400, "val": 800, "test": 800}
    for part in parts.values():
        assert part.label.mean() == pytest.approx(0.75, abs=0.002)
    ids = np.concatenate([p.event.to_numpy() for p in parts.values()])
    assert len(np.unique(ids)) == len(df)
    again = stratified_split(df, (0.6, 0.2, 0.2), seed=9)
    assert all(parts[k].equals(again[k]) for k in parts)
    with pytest.raises(ValueError, match="split fractions"):
        stratified_split(df, (0.6, 0.3, 0.3))


def test_scaler_fits_training_split_and_inverts(tmp_path):
    df = generate_donut(500, 500, seed=1)
    parts = stratified_split(df, seed=1)
    sc = MinMaxScaler.fit(parts["train"], ["x1", "x2"])
    tr = scale_frame(parts["train"], sc)
    assert tr[["x1", "x2"]].min().tolist() == [0.0, 0.0] and tr[["x1", "x2"]].max().tolist() == [1.0, 1.0]
    te = scale_frame(parts["test"], sc)
    np.testing.assert_allclose(sc.inverse(te[["x1", "x2"]]), parts["test"][["x1", "x2"]], atol=1e-12)
    sc.save(tmp_path / "s.json")
    assert MinMaxScaler.load(tmp_path / "s.json") == sc


def test_derived_seeds_are_stable_and_distinct():
    assert derived_seed(1, "donut", "init", 0) == derived_seed(1, "donut", "init", 0)
    seeds = {derived_seed(1, "donut", p, r) for p in ("init", "attack") for r in range(10)}
    assert len(seeds) == 20
    assert derived_seed(1, "donut", "init", 0) == 281442577  # fixed forever: results must not drift


def test_stratified_subset_is_fixed_and_keeps_class_fractions():
    from conservattack.data.preprocessing import stratified_subset

    df = generate_donut(3000, 1000, seed=2)
    a = stratified_subset(df, 400, seed=5)
    assert len(a) == 400 and a.label.mean() == pytest.approx(0.75, abs=0.005)
    assert a.equals(stratified_subset(df, 400, seed=5))
    assert not a.equals(stratified_subset(df, 400, seed=6))
    with pytest.raises(ValueError, match="subset size 5000 must be between 2 and the 4000 events"):
        stratified_subset(df, 5000)
