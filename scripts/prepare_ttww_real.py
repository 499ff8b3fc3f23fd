"""Rule prepare_ttww_real: the real-data jets, read and preprocessed like the simulation."""

from conservattack.data.io import write_json, write_parquet
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged
from conservattack.data.ttww import describe, input_files, read_sample

with logged(snakemake):
    p = snakemake.params
    # the read chunk size is no param (it cannot change the jets)
    reader = {**p.reader, "step_size": snakemake.config["ttww"]["reader"]["step_size"]}
    real = snakemake.input.real
    frame, info = read_sample(input_files([real] if isinstance(real, str) else real), reader, p.constituents,
                              p.max_jets)
    summary = {**info, **describe(frame)}
    print(summary)
    write_parquet(frame, snakemake.output.features)
    write_json({"sample": summary, **provenance({"reader": p.reader, "constituents": p.constituents,
                                                 "max_jets": p.max_jets})}, snakemake.output.meta)
