"""Rule prepare_donut: generate, split and scale the Donut toy."""

from conservattack.data.donut import FEATURES, generate_donut
from conservattack.data.io import write_json, write_parquet
from conservattack.data.preprocessing import SPLITS, MinMaxScaler, scale_frame, stratified_split
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    p = snakemake.params
    df = generate_donut(seed=p.seed, **p.generate)
    parts = stratified_split(df, p.split, seed=p.seed)
    scaler = MinMaxScaler.fit(parts["train"], FEATURES)
    for name in SPLITS:
        write_parquet(scale_frame(parts[name], scaler), snakemake.output[name])
    scaler.save(snakemake.output.scaler)
    counts = {name: {"events": len(part), "signal": int(part["label"].sum())} for name, part in parts.items()}
    print(counts)
    write_json({"counts": counts, **provenance({"generate": p.generate, "split": p.split, "seed": p.seed})},
               snakemake.output.meta)
