"""The rule comparison's table (rule_comparison.csv) and its summary rows, on tiny hand-made attacks:
every column from the attack's record or recomputed from its adversaries by brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from conservattack.data.tables import adversaries_frame
from conservattack.studies.glossary import metric_meaning
from conservattack.studies.paper import paper_number, summary_table
from conservattack.studies.rule_comparison import COLUMNS, comparison_per_run, comparison_row
from problems import correlated_unit_data

FEATURES = ["a", "b", "flat", "c", "d", "e"]


def attack_of(rule: str, n_chunks: int = 1, seed: int = 0):
    """(attack.json-like record, adversaries table) of a made-up attack on 6 features, the third
    constant (not part of the attack, as attack() freezes it)."""
    rng = np.random.default_rng(seed)
    X = correlated_unit_data(200, 5, seed=seed)
    X_clean = np.insert(X, 2, 0.5, axis=1)
    X_adv = X_clean.copy()
    moved = rng.random(200) < 0.3
    X_adv[moved, 0] = np.clip(X_adv[moved, 0] + 0.2, 0, 1)  # a and e: a cross-chunk pair with 2 chunks
    X_adv[moved, 5] = np.clip(X_adv[moved, 5] - 0.3, 0, 1)
    fooled = rng.random(200) < 0.25
    frame = adversaries_frame(np.arange(200), np.zeros(200, int), FEATURES, X_clean, X_adv, fooled,
                              np.full(200, 0.2), np.where(fooled, 0.7, 0.2))
    final = {"fooling_ratio": float(fooled.mean()), "jsd_mean": 0.004, "jsd_max": 0.009, "relative_fn": 0.03}
    params = {"rule": rule, "n_chunks": n_chunks, "min_change": 0.01}
    if rule == "reference":
        final |= {"reference_jsd": [0.001, 0.002, 0.0, 0.003, 0.0, 0.006], "reference_jsd50": [0.01, 0.07, 0, 0, 0, 0],
                  "reference_relative_fn": 0.05}
    return {"final": final, "params": params, "n_targeted": 200, "seconds": 1.5, "features": FEATURES}, frame


def brute_force_shifts(frame, n_chunks: int):
    """(largest |dC| across chunks with its pair of names, largest within a chunk), the chunks
    being numpy.array_split of the non-constant features (one chunk for two or fewer)."""
    active = [f for f in FEATURES if f != "flat"]
    C0 = np.corrcoef(frame[[f"clean_{f}" for f in active]].to_numpy(), rowvar=False)
    C1 = np.corrcoef(frame[active].to_numpy(), rowvar=False)
    chunk = {j: k for k, part in enumerate(np.array_split(np.arange(len(active)), n_chunks)) for j in part}
    across, within = (0.0, None), 0.0
    for j, k in itertools.combinations(range(len(active)), 2):
        shift = abs(C1[j, k] - C0[j, k])
        if chunk[j] != chunk[k] and shift > across[0]:
            across = (shift, f"{active[j]} & {active[k]}")
        if chunk[j] == chunk[k]:
            within = max(within, shift)
    return across, within


@pytest.mark.parametrize("n_chunks", [1, 2, 4])
def test_a_reference_row_holds_the_record_and_the_chunk_audit(n_chunks):
    meta, frame = attack_of("reference", n_chunks)
    row = comparison_row(3, meta, frame)
    assert list(row) == COLUMNS
    assert row["run"] == 3 and row["rule"] == "reference" and row["n_chunks"] == n_chunks
    assert row["setting"] == f"reference, {n_chunks} chunk{'s' if n_chunks > 1 else ''}"
    assert row["fooling_ratio"] == meta["final"]["fooling_ratio"] and row["relative_fn"] == 0.03
    assert row["reported_jsd_mean"] == pytest.approx(0.002) and row["reported_jsd_max"] == 0.006
    assert row["reported_jsd50_max"] == 0.07 and row["reported_relative_fn"] == 0.05
    (across, pair), within = brute_force_shifts(frame, n_chunks)
    assert row["within_chunk_max_shift"] == pytest.approx(within, abs=1e-12)
    if n_chunks == 1:  # no pair of features lies in different chunks
        assert np.isnan(row["cross_chunk_max_shift"]) and row["cross_chunk_pair"] == ""
    else:
        assert row["cross_chunk_max_shift"] == pytest.approx(across, abs=1e-12) and row["cross_chunk_pair"] == pair
        assert "flat" not in pair and abs(row["cross_chunk_adversarial"] - row["cross_chunk_clean"]) == pytest.approx(
            across, abs=1e-12)
    if n_chunks == 2:  # a (chunk 0) and e (chunk 1), the two moved features, changed their correlation most
        assert pair == "a & e"


def test_an_attack_that_moved_nothing_names_no_pair():
    meta, frame = attack_of("reference", 4)
    frame[FEATURES] = frame[[f"clean_{f}" for f in FEATURES]].to_numpy()
    row = comparison_row(0, meta, frame)
    assert row["cross_chunk_max_shift"] == 0 and row["within_chunk_max_shift"] == 0
    assert row["cross_chunk_pair"] == "" and np.isnan(row["cross_chunk_clean"])


def test_an_exact_row_leaves_the_reference_columns_empty():
    row = comparison_row(0, *attack_of("exact"))
    assert row["setting"] == "exact" and row["fooling_ratio"] > 0 and row["attack_seconds"] == 1.5
    empty = [c for c in COLUMNS if c.startswith(("reported_", "cross_chunk_", "within_")) or c == "n_chunks"]
    assert all(np.isnan(row[c]) for c in empty if c != "cross_chunk_pair") and row["cross_chunk_pair"] == ""


def comparison_table(runs=(0, 1), chunks=(1, 4)) -> pd.DataFrame:
    rows = [comparison_row(r, *attack_of("exact", seed=r)) for r in runs]
    rows += [comparison_row(r, *attack_of("reference", k, seed=r)) for k in chunks for r in runs]
    return pd.DataFrame(rows, columns=COLUMNS)


def test_summary_rows_per_chunk_count_beside_the_papers_number(tmp_path):
    table = comparison_table()
    table.to_csv(tmp_path / "t.csv", index=False)  # as the summary reads it back
    wide = comparison_per_run(pd.read_csv(tmp_path / "t.csv"))
    assert list(wide.run) == [0, 1]
    assert "cross_chunk_max_shift_reference_c1" not in wide  # one chunk: nothing across chunks
    assert {"fooling_ratio_reference_c1", "fooling_ratio_reference_c4", "relative_fn_reference_c4",
            "reported_relative_fn_reference_c4", "cross_chunk_max_shift_reference_c4",
            "within_chunk_max_shift_reference_c1"} <= set(wide)
    reference4 = table[(table.rule == "reference") & (table.n_chunks == 4)].set_index("run")
    assert wide.set_index("run")["cross_chunk_max_shift_reference_c4"].tolist() == pytest.approx(
        reference4.cross_chunk_max_shift.tolist())
    summary = summary_table("ttww", wide.assign(fooling_ratio=[0.1, 0.2])).set_index("metric")
    assert summary.loc["fooling_ratio", "paper"] == summary.loc["fooling_ratio_reference_c4", "paper"] == 0.675
    assert summary.loc["reported_relative_fn_reference_c4", "paper"] == 0.182  # the paper's FN, theirs
    assert "beside either rule" in summary.loc["relative_fn_reference_c1", "paper_statement"]
    assert pd.isna(summary.loc["cross_chunk_max_shift_reference_c4", "paper"])
    assert summary.loc["fooling_ratio_reference_c4", "n_runs"] == 2
    for metric in wide.columns.drop("run"):
        assert metric_meaning(metric).startswith("Reference rule (the authors' code, emulated) with "), metric
    assert paper_number("donut", "fooling_ratio_reference_c1") == (0.354, "initial fooling ratio 0.354 (the paper's "
                                                                          "fooling_ratio, beside either rule)")
    assert paper_number("donut", "cross_run_white_box_mean") == (None, "")


def test_fewer_compared_runs_leave_the_others_out_of_the_reference_rows():
    from conservattack.studies.paper import merge_runs

    per_run = pd.DataFrame({"run": [0, 1, 2], "fooling_ratio": [0.3, 0.31, 0.32]})
    merged = merge_runs(per_run, comparison_per_run(comparison_table(runs=(0,), chunks=(4,))))
    summary = summary_table("donut", merged).set_index("metric")
    assert summary.loc["fooling_ratio", "n_runs"] == 3 and summary.loc["fooling_ratio_reference_c4", "n_runs"] == 1
