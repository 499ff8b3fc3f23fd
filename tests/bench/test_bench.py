"""The benchmarks (conservattack.bench): one JSON object per engine and row, and the candidate-count
script of resources/benchmarks, which must count without changing a decision."""

import importlib.util
import json

import numpy as np
import pytest

from conservattack import attack
from conservattack.attacks.engines import cpu as kernels
from conservattack.bench.engines import main as bench_main
from conservattack.bench.engines import problem
from paths import ROOT


@pytest.mark.parametrize("case", ["higgs", "donut"])
def test_benchmark_prints_one_json_object_per_engine(case, capsys):
    assert bench_main(["--case", case, "--n", "300", "--engines", "exact,numpy,naive", "--naive-events", "3"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["engine"] for r in rows] == ["naive", "cpu", "numpy"]
    for r in rows:
        assert {"engine", "device", "case", "n", "d", "K", "event_visits", "seconds", "us_per_event_visit",
                "peak_mem_mb", "ratio"} <= set(r)
        assert r["n"] == 300 and r["us_per_event_visit"] > 0 and r["ratio"] > 0
    assert rows[0]["K"] == (2000 if case == "higgs" else 150)
    for r in rows[1:]:  # full attacks say where their time went
        assert 0 < r["visit_seconds"] + r["model_seconds"] <= r["seconds"]
        assert r["us_per_event_visit_loop"] == pytest.approx(r["visit_seconds"] / r["event_visits"] * 1e6)


@pytest.mark.slow  # compiles a second copy of the cpu kernel
def test_candidate_counts_script_counts_without_changing_a_decision(monkeypatch):
    # resources/benchmarks/candidate_counts.py compiles a copy of visit_events with counters added
    # at lines it finds by text: a kernel edit that moves them must fail here, not in docs/performance.md
    path = ROOT / "resources" / "benchmarks" / "candidate_counts.py"
    spec = importlib.util.spec_from_file_location("candidate_counts", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    params, X, model, y = problem("higgs", 300, 0, 2, "cpu")
    expected = attack(model, X, y, params, engine="cpu", progress=False).X_adv
    # a case where bins that break the JSD limit are jumped over (counted below): still the
    # reference engine's decisions
    assert np.array_equal(attack(model, X, y, params, engine="numpy", progress=False).X_adv, expected)
    counter = np.zeros(len(script.NAMES), np.int64)
    monkeypatch.setattr(kernels, "visit_events", script.counted_visit_events(counter, len(X)))
    got = attack(model, X, y, params, engine="cpu", progress=False).X_adv
    assert np.array_equal(got, expected)
    binned, evaluated, checked, skipped, jumped = counter.tolist()
    assert binned >= evaluated > 0 and checked >= skipped > 0 and binned >= jumped > 0


def test_benchmark_disco_rows(capsys):
    assert bench_main(["--case", "disco", "--n", "300", "--naive-events", "2", "--iterations", "1"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["engine"] for r in rows] == ["disco-incremental", "disco-direct", "disco-full", "disco-attack",
                                           "disco-calibrated-attack"]
    assert rows[2]["candidates_timed"] == 2 and rows[3]["event_visits"] == 300
    calibrated = rows[4]
    assert calibrated["constraints"] == "calibrated" and 0 < calibrated["calibration_seconds"] < calibrated["seconds"]
    assert calibrated["corr_budget_ratio_max"] <= 1 + 1e-9 and calibrated["jsd_budget_ratio_max"] <= 1 + 1e-9
    for r in rows:
        assert {"engine", "device", "case", "n", "d", "K", "event_visits", "seconds", "us_per_event_visit",
                "peak_mem_mb", "ratio"} <= set(r)
        assert r["case"] == "disco" and r["n"] == 300 and r["d"] == 30 and r["ratio"] > 0


def test_benchmark_reference_rule_rows(capsys):
    # a row per chunk count and engine, with the outcome and the compiled engine's trips to numpy
    assert bench_main(["--case", "donut", "--n", "300", "--engines", "reference,reference-numpy", "--chunks", "1,3",
                       "--iterations", "1", "--naive-events", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [(r["engine"], r["n_chunks"]) for r in rows] == [("reference-cpu", 1), ("reference-numpy", 1),
                                                            ("reference-cpu", 2), ("reference-numpy", 2)]
    for r in rows:
        assert r["rule"] == "reference" and r["us_per_event_visit"] > 0 and r["n"] == 300
    compiled = rows[0]
    assert compiled["event_visits"] > 0 and {"fooling_ratio", "relative_fn", "fallback_visits",
                                              "exact_jsd_calls", "cross_chunk_max_shift"} <= set(compiled)
    assert rows[1]["event_visits"] == 2


def test_benchmark_calibrated_row(capsys):
    # the calibrated constraints after the per-move cpu row: the bootstrap's time and its share of both attacks
    assert bench_main(["--case", "higgs", "--n", "400", "--engines", "exact,calibrated", "--iterations", "1"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["engine"] for r in rows] == ["cpu", "calibrated-cpu"]
    cal = rows[1]
    assert cal["constraints"] == "calibrated" and cal["event_visits"] > 0
    assert 0 < cal["calibration_seconds"] < cal["seconds"]
    assert cal["calibration_overhead"] == pytest.approx(cal["calibration_seconds"] / (cal["seconds"]
                                                                                     - cal["calibration_seconds"]))
    assert cal["calibration_share_of_cpu_attack"] == pytest.approx(cal["calibration_seconds"] / rows[0]["seconds"])
    assert cal["jsd_budget_ratio_max"] <= 1 + 1e-9 and cal["corr_budget_ratio_max"] <= 1 + 1e-9
