"""Rule rule_comparison: the exact and the reference rule (and the calibrated constraints) per
compared run, with the chunk audit."""

import re

import pandas as pd

from conservattack.data.io import read_json, read_parquet
from conservattack.pipeline.runlog import logged
from conservattack.studies.rule_comparison import COLUMNS, comparison_row

with logged(snakemake):
    rows = []
    for meta_path, adversaries_path in zip(snakemake.input.attacks, snakemake.input.adversaries):
        run = int(re.search(r"/run(\d+)/attack", meta_path).group(1))  # runs/run<r>/attack[_reference]/
        rows.append(comparison_row(run, read_json(meta_path), read_parquet(adversaries_path)))
    table = pd.DataFrame(rows, columns=COLUMNS)
    # per run: the exact rule, the reference rule by chunk count, the calibrated constraints
    table = table.assign(_order=(table["constraints"] == "calibrated") * 2 + (table["rule"] == "reference")) \
        .sort_values(["run", "_order", "n_chunks"], ignore_index=True).drop(columns="_order")
    table.to_csv(snakemake.output[0], index=False, float_format="%.6g")
    print(table.to_string())
