"""Rule prepare_higgs: read, check, treat -999, split and scale the Higgs data."""

from conservattack.data.higgs import prepare_higgs, read_higgs
from conservattack.data.io import write_json, write_parquet
from conservattack.data.preprocessing import SPLITS
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    p = snakemake.params
    df = read_higgs(list(snakemake.input.csv))
    prepared = prepare_higgs(df, split=p.split, seed=p.seed, missing_policy=p.missing_policy)
    for name in SPLITS:
        write_parquet(prepared["splits"][name], snakemake.output[name])
    prepared["scaler"].save(snakemake.output.scaler)
    print(prepared["counts"])
    write_json({"files": list(snakemake.input.csv), "counts": prepared["counts"], "missing": prepared["missing"],
                **provenance({"missing_policy": p.missing_policy, "split": p.split, "seed": p.seed})},
               snakemake.output.meta)
