"""Registers, spills and shared memory of the cuda engine's kernels, and the warps that can then be
resident on one streaming multiprocessor; compiled for a compute capability without a GPU.

    pip install "numba-cuda[cu12]"     # NVVM and ptxas from the CUDA toolkit's wheels; no driver needed
    python resources/benchmarks/kernel_resources.py [--cc 9.0] [--batch-registers 0,64,96,128]

It prints one JSON object per kernel and register cap. The choice kernel of the batched mode is
compiled once per cap in ``--batch-registers`` (0: no cap), the exact kernel at the cap the
engine gives it, and the batched mode's one-block ``coupling_kernel`` and the calibrated
constraints' one-warp ``visit_calibrated_kernel`` uncapped. The occupancy arithmetic is the CUDA occupancy calculator's for sm_80 and sm_90:
65,536 registers, allocated per warp in units of 256, at most 64 warps and 32 blocks, and 228 KB of
shared memory (1 KB of it reserved per block).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "lib"))

REGISTERS_PER_SM, MAX_WARPS, MAX_BLOCKS, SMEM_PER_SM, SMEM_RESERVED = 65536, 64, 32, 233472, 1024


def resident_warps(registers: int, smem: int, threads: int) -> int:
    warps_per_block = math.ceil(threads / 32)
    per_warp = math.ceil(registers * 32 / 256) * 256
    by_registers = REGISTERS_PER_SM // (per_warp * warps_per_block)
    by_smem = SMEM_PER_SM // (smem + SMEM_RESERVED)
    blocks = min(by_registers, by_smem, MAX_BLOCKS, MAX_WARPS // warps_per_block)
    return blocks * warps_per_block


def ptxas_usage(ptx: str, cc: tuple[int, int], max_registers: int) -> dict:
    import nvidia.cuda_nvcc

    ptxas = Path(list(nvidia.cuda_nvcc.__path__)[0]) / "bin" / "ptxas"
    with tempfile.NamedTemporaryFile("w", suffix=".ptx", delete=False) as fh:
        fh.write(ptx)
    cmd = [str(ptxas), f"-arch=sm_{cc[0]}{cc[1]}", "-v", "-o", os.devnull, fh.name]
    if max_registers:
        cmd.insert(1, f"--maxrregcount={max_registers}")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    os.unlink(fh.name)
    def number(pattern):  # ptxas leaves out what a kernel does not use (no shared memory: no smem)
        found = re.search(pattern, out)
        return int(found.group(1)) if found else 0

    return {"registers": number(r"Used (\d+) registers"), "spill_stores_bytes": number(r"(\d+) bytes spill stores"),
            "spill_loads_bytes": number(r"(\d+) bytes spill loads"), "smem_bytes": number(r"(\d+) bytes smem")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cc", default="9.0", help="compute capability, e.g. 9.0 (H100, H200) or 8.0 (A100)")
    ap.add_argument("--batch-registers", default="0,64,80,96,128", help="register caps of the batched choice kernel")
    args = ap.parse_args()
    cc = tuple(int(v) for v in args.cc.split("."))

    import numba.cuda.dispatcher as dispatcher
    from numba import cuda, typeof

    class _Device:  # a device function compiles for the current device's capability: this one here
        compute_capability = cc

    dispatcher.get_current_device = lambda: _Device()
    from conservattack.attacks.engines import cuda as ce

    from conservattack.attacks.engines import structs

    m, d, nb = 64, 30, 200
    X, vec, edges, terms = np.zeros((m, d)), np.zeros(d), np.zeros((d, nb + 1)), np.zeros((d, nb))
    U, S, counts, events, moved = np.zeros((m, 1, 1)), np.zeros((d, d)), np.zeros((d, nb), np.int64), \
        np.zeros(m, np.int64), np.zeros(1, np.int64)
    sig = lambda *values: tuple(typeof(v) for v in values)  # noqa: E731
    draws, bounds = structs.Draws(X, X, X, U), structs.Bounds(vec, vec)
    hist = structs.Histograms(edges, counts, terms, terms, terms, terms, vec)
    cm, rule = structs.Comoments(vec, S), structs.Rule(1.0, 1.0, 1.0, 1.0, True, True)
    kernels = [
        ("visit_exact_kernel", sig(X, events, draws, bounds, hist, cm, rule, moved), ce.THREADS, [ce.MAX_REGISTERS]),
        ("choose_batch_kernel", sig(X, draws, bounds, hist, cm, vec, vec, 1, rule, X), ce.BATCH_WARPS * ce.WARP,
         [int(v) for v in args.batch_registers.split(",")]),
        ("coupling_kernel", sig(S, vec, vec), ce.THREADS, [0]),
        ("visit_calibrated_kernel", sig(X, events, draws, bounds, hist, cm, structs.Budgets(vec, S, S), rule, moved),
         ce.WARP, [0]),
    ]
    for name, types, threads, caps in kernels:
        ptx, _ = cuda.compile_ptx(getattr(ce, name).py_func, types, cc=cc)
        for cap in caps:
            usage = ptxas_usage(ptx, cc, cap)
            warps = resident_warps(usage["registers"], usage["smem_bytes"], threads)
            print(json.dumps({"kernel": name, "cc": args.cc, "max_registers": cap or None, **usage,
                              "threads_per_block": threads, "resident_warps_per_sm": warps}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
