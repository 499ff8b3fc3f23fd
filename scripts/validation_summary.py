"""Rule validation_summary: every validated attack of a dataset, one row each (results/<dataset>/validation.csv)."""

import pandas as pd

from conservattack.data.io import read_json
from conservattack.pipeline.runlog import logged
from conservattack.studies.validation import summary_row

with logged(snakemake):
    rows = [{**key, **summary_row(read_json(path))}
            for key, path in zip(snakemake.params.attacks, snakemake.input.summaries, strict=True)]
    table = pd.DataFrame(rows)
    table.to_csv(snakemake.output[0], index=False, float_format="%.6g")
    print(table.to_string())
