"""Rule prepare_real_data: the real-data set, scaled like the simulation."""

from conservattack.data.io import read_json, write_parquet
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.data.real import prepare_real_events
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    real = prepare_real_events(snakemake.input.real, MinMaxScaler.load(snakemake.input.scaler),
                               snakemake.params.tree, read_json(snakemake.input.meta).get("missing"),
                               snakemake.params.missing_values)
    print(f"{len(real)} real events")
    write_parquet(real, snakemake.output[0])
