"""Rule prepare_custom: read and check the analyst's events, split once (stratified), min-max scale."""

from conservattack.data.io import write_json, write_parquet
from conservattack.data.preprocessing import SPLITS, MinMaxScaler, scale_frame, stratified_split
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged
from conservattack.data.custom import read_events

with logged(snakemake):
    p = snakemake.params
    data = p.data
    df = read_events(snakemake.input.events, data["features"], data["label"], data["format"], data["tree"],
                     missing_values=data["missing_values"])
    parts = stratified_split(df, p.split, seed=p.seed)
    scaler = MinMaxScaler.fit(parts["train"], data["features"])
    scaled = {name: scale_frame(parts[name], scaler) for name in SPLITS}  # all checks pass before writing
    for name in SPLITS:
        write_parquet(scaled[name], snakemake.output[name])
    scaler.save(snakemake.output.scaler)
    counts = {name: {"events": len(part), "signal": int(part["label"].sum())} for name, part in parts.items()}
    print(counts)
    write_json({"file": snakemake.input.events, "counts": counts,
                **provenance({"data": data, "split": p.split, "seed": p.seed})}, snakemake.output.meta)
