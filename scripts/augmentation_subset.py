"""Rules augmentation_subset and disco_subset: a fixed stratified subset of a split."""

from conservattack.data.io import read_parquet, write_parquet
from conservattack.data.preprocessing import stratified_subset
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    subset = stratified_subset(read_parquet(snakemake.input.train), snakemake.params.n, seed=snakemake.params.seed)
    print(f"{len(subset)} events, {int(subset['label'].sum())} signal")
    write_parquet(subset, snakemake.output[0])
