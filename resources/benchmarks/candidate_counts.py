"""The cpu engine's work per event visit, counted: candidates binned, candidates whose Frobenius
change is evaluated, pruning blocks checked and skipped, and bins jumped over (every candidate in
them breaks the JSD limit), beside the loop's time.

    python resources/benchmarks/candidate_counts.py [--case higgs] [--n 10000 100000 1000000]

It answers whether a change in time per event visit with n (the scaling rows of docs/performance.md) comes
from the attack doing more work per event or from each unit of work costing more. The engine
counts nothing (a counter would cost the hot loop), so this script compiles a copy of
``attacks.engines.cpu.visit_events`` with a counter array added at five places of its source, and runs the
benchmark's attack (1 iteration, ``conservattack.bench.engines.run``) through it. The copy's decisions
are the engine's: only the counter increments are added. Prints one JSON object per n.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "lib"))

from conservattack.bench import engines as bench  # noqa: E402
from conservattack.attacks.engines import cpu as kernels  # noqa: E402

# (the line of visit_events after which a counter goes, indentation included; the counter's index)
COUNTED = {
    " " * 20 + "b = _bin_of(xn, edges, j, nb)\n": 0,  # a candidate binned
    " " * 20 + "if jsd <= max_jsd or full:\n": 1,  # its Frobenius change evaluated
    " " * 28 + "skip = False\n": 2,  # a block of grid moves checked for pruning
    " " * 32 + "k += size\n": 3,  # ... and skipped
    # the rest of a bin that breaks the JSD limit jumped over
    " " * 24 + "k = past_rest_of_bin(k, b, xj, s, mcj, stj, lo[j], hi[j], edges, j, nb)\n": 4,
}
NAMES = ["binned", "frobenius_evaluated", "blocks_checked", "blocks_skipped", "bins_jumped"]


@functools.cache
def _counted_kernels():
    """A copy of the kernels module whose ``visit_events`` takes a last argument ``counter`` and
    runs ``counter[i] += 1`` after each line of COUNTED (compiled once per process)."""
    source = Path(kernels.__file__).read_text()
    signature = "rule, prune):"
    if source.count(signature) != 1:
        raise SystemExit(f"{kernels.__file__}: visit_events' signature changed; update this script")
    source = source.replace(signature, "rule, prune, counter):")
    for line, index in COUNTED.items():
        if source.count(line) != 1:
            raise SystemExit(f"{kernels.__file__}: the line {line.strip()!r} is not there once; update COUNTED")
        indent = line[: len(line) - len(line.lstrip())] + ("    " if line.rstrip().endswith(":") else "")
        source = source.replace(line, f"{line}{indent}counter[{index}] += 1\n")
    path = Path(tempfile.mkdtemp()) / "_cpu_counted.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("conservattack.attacks.engines._cpu_counted", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def counted_visit_events(counter: np.ndarray, rows: int):
    """A stand-in for ``attacks.engines.cpu.visit_events`` that makes its decisions and adds the work it does
    on a set of ``rows`` events to ``counter`` (other sets, such as the benchmark's 200-event
    warm-up attack, are not counted)."""
    visit, spare = _counted_kernels().visit_events, np.zeros_like(counter)
    return lambda X, *rest: visit(X, *rest, counter if len(X) == rows else spare)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=sorted(bench.CASES), default="higgs")
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for n in args.n:
        counter = np.zeros(len(NAMES), np.int64)
        kernels.visit_events = counted_visit_events(counter, n)  # attacks looks it up at each chunk
        row = bench.run(args.case, n, ["cpu"], seed=args.seed, iterations=1)[-1]
        visits = row["event_visits"]
        print(json.dumps({"case": args.case, "n": n, "us_per_event_visit_loop": row["us_per_event_visit_loop"],
                          **{f"{name}_per_event": int(c) / visits for name, c in zip(NAMES, counter)},
                          "ns_per_frobenius_evaluated": row["us_per_event_visit_loop"] * 1e3 / (counter[1] / visits)}),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
