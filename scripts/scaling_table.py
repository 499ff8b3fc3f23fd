"""Rule scaling_table: the size-scaling study's table, one row per rule configuration and size."""

from conservattack.data.io import read_json
from conservattack.pipeline.runlog import logged
from conservattack.studies.scaling import scaling_table

with logged(snakemake):
    table = scaling_table([read_json(path) for path in snakemake.input.attacks])
    table.to_csv(snakemake.output[0], index=False)
    print(table.drop(columns=["data"]).to_string(index=False))
