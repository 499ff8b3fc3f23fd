"""Rule restricted_metrics: the restricted attack's numbers per run."""

import pandas as pd

from conservattack.data.io import read_json
from conservattack.pipeline.runlog import logged

COLUMNS = ["fooling_ratio_cr", "fooling_ratio_sr", "fooling_ratio_all", "cr_jsd_mean", "cr_relative_fn",
           "n_targeted", "n_control"]

with logged(snakemake):
    rows = [{"run": r, **{k: read_json(p)[k] for k in COLUMNS}} for r, p in enumerate(snakemake.input.metas)]
    table = pd.DataFrame(rows)
    table.to_csv(snakemake.output[0], index=False)
    print(table.to_string())
