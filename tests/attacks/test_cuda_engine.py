"""The GPU engine (conservattack.attacks.engines.cuda).

Without a GPU, its kernels still run: ``test_kernels_in_cuda_simulator`` executes them in numba's
CUDA simulator and checks they decide as the cpu engine does. The tests marked ``gpu`` need an
NVIDIA GPU and skip cleanly without one.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conservattack import AttackParams, ParameterError, attack
from conservattack.attacks.engines import CUDA_VISIT_EVENTS, cuda_visit_chunk
from conservattack.attacks.engines.cuda import SIMULATOR, available

from cuda_checks import (CALIBRATED_MODES, MODES, calibrated_problem, check_batched_semantics,
                         check_exact_matches_cpu, problem)
from paths import HELPERS, ROOT

HAS_GPU = available() and not SIMULATOR
gpu = pytest.mark.skipif(not HAS_GPU, reason="needs an NVIDIA GPU that numba can use")


@pytest.mark.slow  # about 2 min: every kernel in numba's CUDA simulator
def test_kernels_in_cuda_simulator():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    script = HELPERS / "cuda_checks.py"
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    # the modes, the pruned case and the calibrated constraints' modes
    assert out.stdout.count("identical to the cpu engine") == len(MODES) + 1 + len(CALIBRATED_MODES)
    assert out.stdout.count("applied in order") == 2
    assert "bench: the --device cuda rows" in out.stdout


def test_kernels_compile_for_sm90_with_the_promised_resources():
    """Both kernels go through NVVM and ptxas for sm_90 (H100, H200), which the simulator never
    does; the batched choice kernel keeps to its register cap without spills. Needs the CUDA
    toolkit's wheels (pip install -e '.[gpu]'), not a GPU."""
    pytest.importorskip("numba_cuda", reason="needs numba-cuda (pip install -e '.[gpu]')")
    pytest.importorskip("nvidia.cuda_nvcc", reason="needs ptxas from nvidia-cuda-nvcc (pip install -e '.[gpu]')")
    script = ROOT / "resources" / "benchmarks" / "kernel_resources.py"
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_ENABLE_CUDASIM", "CONSERVATTACK_CUDA_THREADS",
                                                          "CONSERVATTACK_CUDA_BATCH_REGISTERS")}
    out = subprocess.run([sys.executable, str(script), "--cc", "9.0", "--batch-registers", "128"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = {r["kernel"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert set(rows) == {"visit_exact_kernel", "choose_batch_kernel", "coupling_kernel", "visit_calibrated_kernel"}
    batch = rows["choose_batch_kernel"]
    assert batch["registers"] <= 128 and batch["spill_stores_bytes"] == 0, batch
    assert batch["resident_warps_per_sm"] >= 16, batch  # twice the 8 of the block-per-event kernel
    assert rows["visit_exact_kernel"]["spill_stores_bytes"] == 0
    assert rows["visit_calibrated_kernel"]["spill_stores_bytes"] == 0


@pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU")
def test_cuda_engine_without_gpu_is_a_clear_error(small_problem):
    model, X, y = small_problem
    with pytest.raises(ParameterError, match="'cuda' needs an NVIDIA GPU"):
        attack(model, X, y, {"min_change": 0.01, "step": 0.01, "n_iterations": 1}, engine="cuda", progress=False)


def test_batch_events_needs_the_cuda_engine(small_problem):
    model, X, y = small_problem
    with pytest.raises(ParameterError, match="batch_events = 8 needs engine 'cuda'"):
        attack(model, X, y, {"min_change": 0.01, "step": 0.01}, engine="cpu", batch_events=8, progress=False)
    with pytest.raises(ParameterError, match="batch_events must be an integer >= 0"):
        attack(model, X, y, {"min_change": 0.01, "step": 0.01}, engine="cpu", batch_events=-1, progress=False)



@pytest.mark.parametrize("batch", [0, 1, 1000, 32768, 65536, 100_000, 300_000])
def test_gpu_visits_go_in_whole_batches_of_any_size(batch):
    # A batch larger than the draw chunk used to be cut at the chunk: B = 100,000 ran as
    # batches of 65,536 and 34,464 without a word.
    chunk = cuda_visit_chunk(batch)
    if batch <= 1:
        assert chunk == CUDA_VISIT_EVENTS
    else:
        assert chunk % batch == 0 and chunk >= batch
        assert chunk <= max(batch, CUDA_VISIT_EVENTS)

@gpu
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("seed", range(3))
def test_gpu_exact_engine_is_bit_identical_to_cpu(mode, seed):
    rng = np.random.default_rng(seed)
    model, X, y, params = problem(int(rng.integers(200, 600)), int(rng.integers(3, 9)), seed, **MODES[mode])
    params = AttackParams(**{**params.to_dict(), "n_iterations": 3, "step": 0.005, "num_bins": 30,
                             "max_frob_single_change": 0.01})
    mask = rng.random(len(X)) < 0.1
    check_exact_matches_cpu(model, X, y, params, mask=mask)


@gpu
def test_gpu_exact_engine_on_a_higgs_like_grid():
    """K = 2000 candidates per feature: most blocks are pruned, decisions stay those of the cpu engine."""
    model, X, y, params = problem(3000, 12, seed=4)
    params = AttackParams(min_change=0.0005, step=0.0005, n_iterations=2, num_bins=200, alpha=4.0, beta=1.0,
                          max_jsd_single_change=0.006, max_frob_single_change=0.0005)
    check_exact_matches_cpu(model, X, y, params)


@gpu
@pytest.mark.parametrize("mode", sorted(CALIBRATED_MODES))
@pytest.mark.parametrize("seed", range(2))
def test_gpu_calibrated_constraints_make_the_cpu_decisions(mode, seed):
    """The calibrated kernel against the compiled cpu loop (which equals the numpy reference to the
    bit): the same set; only libdevice's log may differ by an ulp in the JS terms (module docstring)."""
    rng = np.random.default_rng(seed)
    model, X, y, params = calibrated_problem(int(rng.integers(200, 600)), int(rng.integers(3, 9)), seed,
                                             **CALIBRATED_MODES[mode])
    check_exact_matches_cpu(model, X, y, AttackParams(**{**params.to_dict(), "num_bins": 30}),
                            mask=rng.random(len(X)) < 0.1)


@gpu
@pytest.mark.parametrize("mode", sorted(MODES))
def test_gpu_batched_mode_semantics(mode):
    check_batched_semantics(*problem(400, 5, seed=3, **MODES[mode]))


def test_auto_engine_is_the_cpu_engine_even_with_a_gpu():
    from conservattack.attacks.engines import resolve_engine

    assert resolve_engine("auto") == "cpu"
