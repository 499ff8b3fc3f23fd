"""The compiled engine of the reference rule (engines.reference_cpu) against its numpy emulation
(attacks.reference, itself replayed on the authors' recorded decisions in test_reference_traces):
the same choices, the same sets to the bit, on random cases in every mode, with its shortcuts and
with every decision sent back to numpy."""

import numpy as np
import pytest
from problems import correlated_unit_data, model_labels, small_model

from conservattack import AttackParams, attack
from conservattack.attacks import reference
from conservattack.attacks.engines import reference_cpu

BASE = {"rule": "reference", "n_iterations": 2, "num_bins": 12, "min_change": 0.01, "step": 0.02,
        "max_jsd_single_change": 0.08, "max_frob_single_change": 0.02, "alpha": 4.0, "beta": 1.0}
CASES = {
    "grid": {},
    "grid, chunks": {"n_chunks": 2},
    "grid, three chunks": {"n_chunks": 3},
    "no use_no_change": {"use_no_change": False},
    "tight limits": {"max_jsd_single_change": 0.03, "max_frob_single_change": 0.004},
    "random mode": {"num_candidates": 9, "min_change": 0.005},
    "jitter": {"randomize_step": True, "random_step_frac": 0.4, "n_chunks": 2},
    "fine grid": {"min_change": 0.002, "step": 0.003, "num_bins": 30},
}


def problem(n, d, seed):
    X = correlated_unit_data(n, d, seed)
    X[: n // 10, 0] = np.round(X[: n // 10, 0], 1)  # pile-ups on bin edges, and empty bins in a tail
    X[:, 1] = X[:, 1] ** 4
    model = small_model(d, seed=seed + 1)
    return model, X, model_labels(model, X)


def both_engines(model, X, y, params, mask=None):
    out = {}
    for engine in ("numpy", "cpu"):
        out[engine] = attack(model, X, y, params, mask=mask, progress=False, engine=engine, record=True)
    return out["numpy"], out["cpu"]


def assert_same(a, b):
    assert np.array_equal(np.array(a.record["choices"]), np.array(b.record["choices"]))
    assert np.array_equal(a.X_adv, b.X_adv)
    assert np.array_equal(a.fooled, b.fooled)
    for ha, hb in zip(a.history, b.history):
        assert ha["reference_jsd"] == hb["reference_jsd"] and ha["relative_fn"] == hb["relative_fn"]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("seed", [3, 4])
def test_compiled_engine_takes_the_numpy_decisions(case, seed):
    model, X, y = problem(260, 5, seed)
    mask = np.zeros(len(X), bool)
    mask[::7] = True
    a, b = both_engines(model, X, y, {**BASE, **CASES[case], "seed": seed}, mask)
    assert_same(a, b)
    assert b.history[0]["reference_engine"] == "cpu"
    assert (b.X_adv != X).any()  # something moved, so the comparison means something


def test_every_decision_sent_back_to_numpy_still_gives_the_same_attack(monkeypatch):
    # error bounds so wide that no decision can be taken in compiled code: every visit falls back
    wide = reference_cpu.rule_of
    monkeypatch.setattr(reference_cpu, "rule_of", lambda p: wide(p, js_error=1.0, fn_error=0.999))
    model, X, y = problem(200, 4, 7)
    a, b = both_engines(model, X, y, {**BASE, "n_chunks": 2})
    assert_same(a, b)
    assert b.history[0]["fallback_visits"] == 2 * b.history[0]["events_visited"]


def test_a_histogram_equal_to_the_reference_asks_numpy_for_its_divergence():
    # at the start every histogram is the reference's: its divergence is rounding noise, so the
    # compiled engine takes numpy's value (NaN or a tiny JSD) before its first choice
    model, X, y = problem(200, 4, 8)
    _, b = both_engines(model, X, y, BASE)
    assert b.history[0]["exact_jsd_calls"] >= 1


def test_running_counts_bins_and_candidate_lists_equal_numpy():
    rng = np.random.default_rng(0)
    n, c, nb = 500, 3, 17
    S = rng.random((n, c))
    S[:50, 0] = np.round(S[:50, 0] * nb) / nb  # values on the edges
    lo, hi = S.min(0), S.max(0)
    edges = np.stack([np.linspace(lo[k], hi[k], nb + 1) for k in range(c)])
    values = np.concatenate([S[:, :], edges.T[:, :], (edges.T - 1e-7)]).T  # (c, m)
    bins = reference.bins_of(values, edges)
    assert all(reference_cpu.bin_of(values[k, i], edges, k) == bins[k, i]
               for k in range(c) for i in range(values.shape[1]))
    ref_p = reference.normalised_reference(reference.reference_histograms(S, edges).T)
    worker = reference.Worker(S=S.copy(), signs=None, draws=None, edges=edges, lo=lo, hi=hi, reference_p=ref_p,
                              best=None, change=None)
    st = reference_cpu.worker_state(worker)
    assert np.array_equal(st.counts, reference.histogram_counts(S, edges))
    for mode in ({}, {"num_candidates": 5}, {"randomize_step": True, "random_step_frac": 0.5},
                 {"use_no_change": False, "min_change": 0.003, "step": 0.0007}):
        p = AttackParams(**{**BASE, **mode})
        for e in range(0, n, 37):
            signs = np.where(rng.random(c) < 0.5, 1, -1).astype(np.int8)
            draws = reference.visit_draws(rng, p, 1, c)[0]
            want, in_list = reference.candidate_deltas(S[e], signs, lo, hi, p, draws)
            got, lengths = reference_cpu._candidates(S[e].copy(), signs.astype(np.int64), lo, hi, draws,
                                                     reference_cpu.rule_of(p))
            assert np.array_equal(got, want) and np.array_equal(lengths, in_list.sum(axis=1))


def test_a_rows_divergence_does_not_depend_on_the_other_rows():
    # the exact JSD the compiled engine asks for is computed on the current histograms alone; it
    # must be the value the full candidate array gives that row
    rng = np.random.default_rng(1)
    c, C, nb, n = 4, 9, 20, 300
    edges = np.stack([np.linspace(0, 1 + k, nb + 1) for k in range(c)])
    reference_T = rng.random((nb, c)).astype(np.float32).T
    p = reference.normalised_reference(reference_T)
    counts = rng.multinomial(n, np.ones(nb) / nb, size=(c, C)).astype(np.int32)
    full = reference.jsd_of_counts(p, counts, n, edges)
    for j in range(C):
        alone = reference.jsd_of_counts(p, np.ascontiguousarray(counts[:, j : j + 1, :]), n, edges)[:, 0]
        assert np.array_equal(alone, full[:, j], equal_nan=True)


def test_a_candidates_values_do_not_depend_on_which_others_are_scored():
    # the compiled engine's fallback scores only the candidates it cannot rule out: their JSD and
    # Frobenius values must be those of the full candidate arrays, bit for bit
    rng = np.random.default_rng(2)
    n, c, nb, C = 400, 5, 25, 60
    S = correlated_unit_data(n, c, 3)
    lo, hi = S.min(0), S.max(0)
    edges = np.stack([np.linspace(lo[k], hi[k], nb + 1) for k in range(c)])
    p = reference.normalised_reference(reference.reference_histograms(S, edges).T)
    S[rng.integers(0, n, 40)] += rng.normal(0, 0.05, (40, c))
    S = np.clip(S, lo, hi)
    e = 11
    new = np.clip(S[e][:, None] + (np.arange(C) * 0.004 * np.where(rng.random(c) < 0.5, 1, -1)[:, None]).astype(
        np.float32), lo[:, None], hi[:, None])
    old = np.broadcast_to(S[e][:, None], new.shape)
    jsd, fn = reference.candidate_jsd(p, S, edges, new, old), reference.candidate_frobenius(S, e, new)
    for columns in ([0], [3], list(range(7)), [2, 5, 31, 59], sorted(rng.choice(C, 33, replace=False))):
        part = new[:, columns]
        assert np.array_equal(reference.candidate_jsd(p, S, edges, part, old[:, columns]), jsd[:, columns],
                              equal_nan=True)
        assert np.array_equal(reference.candidate_frobenius(S, e, part), fn[:, columns], equal_nan=True)
