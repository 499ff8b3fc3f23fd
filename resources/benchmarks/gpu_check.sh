#!/usr/bin/env bash
# The GPU engine's device check in one command: the GPU tests, then the benchmark rows of the
# GPU table of docs/performance.md (cpu, exact cuda and batched cuda at n = 250,000; cpu and batched at
# 1,000,000; calibrated-cpu and calibrated-cuda at 50,000), each row with its time split (gpu_wait_seconds, host_apply_seconds, ...), and last
# the batched rows at other register caps of the choice kernel (gpu_registers.jsonl; compare them
# with the batch-32,768 row of the first run).
#
#   bash resources/benchmarks/gpu_check.sh [OUTDIR]      # from the repository root
#
# Meant for a CUDA machine whose python3 already holds torch, numba and numba-cuda (a GPU node's
# environment, or the CUDA image of a lent machine): nothing is installed. Writes gpu.txt,
# gpu_tests.log, gpu_bench.jsonl and gpu_registers.jsonl to OUTDIR (default $OUT, else
# /tmp/gpu_check). About 8 minutes on an H100 (estimated from its earlier rows), plus the calibrated rows (not yet run on a GPU). Exits non-zero when a test fails or the benchmark breaks.
set -uo pipefail
out=${1:-${OUT:-/tmp/gpu_check}}
mkdir -p "$out"
export PYTHONPATH="$PWD/workflow/lib${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# numba-cuda 0.30 still calls np.row_stack, which numpy 2.5 removed: restore the alias, then run
# the module (python3 -m MODULE ARGS...)
launch='import runpy, sys
import numpy as np
if not hasattr(np, "row_stack"):
    np.row_stack = np.vstack
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)'
py() { python3 -c "$launch" "$@"; }

status=0
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt" || status=1
py pytest -q -p no:cacheprovider tests/attacks/test_cuda_engine.py -k "not simulator" 2>&1 | tee "$out/gpu_tests.log" \
    || status=1
bench=(py conservattack.bench --case higgs --device cuda)
"${bench[@]}" --n 250000 --engines cpu,cuda --batch 1024,32768 --iterations 2 | tee "$out/gpu_bench.jsonl" \
    || status=1
"${bench[@]}" --n 1000000 --engines cpu --batch 32768 --iterations 1 | tee -a "$out/gpu_bench.jsonl" || status=1
# the calibrated constraints' kernel (one warp, no pruning) against the compiled cpu loop, same run
"${bench[@]}" --n 50000 --engines calibrated --iterations 2 | tee -a "$out/gpu_bench.jsonl" || status=1
# the cap is fixed when the kernel compiles: one process per cap (0: none; the default, 128, ran above)
for cap in 64 96 0; do
    CONSERVATTACK_CUDA_BATCH_REGISTERS=$cap "${bench[@]}" --n 250000 --engines "" --batch 32768 --iterations 2 \
        | tee -a "$out/gpu_registers.jsonl" || status=1
done
exit $status
