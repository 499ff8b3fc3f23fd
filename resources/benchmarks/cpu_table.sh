#!/usr/bin/env bash
# The rows of the CPU tables of docs/performance.md: every case against the naive engine, the numpy
# reference on a smaller set, and the higgs scaling rows at n = 10,000 / 100,000 / 1,000,000.
#
#   bash resources/benchmarks/cpu_table.sh [OUTFILE]     # from the repository root, after set-up
#
# Appends one JSON row per engine to OUTFILE (default resources/benchmarks/cpu_2core.jsonl, which
# it first empties), after a comment line naming the machine and the commit. About 7 minutes on 2
# cores. Run nothing else meanwhile: the rows are timings.
set -euo pipefail
out=${1:-resources/benchmarks/cpu_2core.jsonl}
py=${PYTHON:-.venv/bin/python}
bench() { "$py" -m conservattack.bench "$@" | tee -a "$out"; }
echo "# bash resources/benchmarks/cpu_table.sh on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%F)" > "$out"
for case in higgs ttww donut; do
    [ "$case" = higgs ] && bench --case higgs --n 10000 --engines exact,naive
    bench --case "$case" --n 50000 --engines exact,naive
done
bench --case higgs --n 5000 --engines numpy --iterations 1
bench --case donut --n 50000 --engines numpy --iterations 1
for n in 10000 100000 1000000; do
    bench --case higgs --n "$n" --engines exact,naive --iterations 1 --naive-events 3
done
