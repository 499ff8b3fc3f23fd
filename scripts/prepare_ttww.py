"""Rule prepare_ttww: TT and WW jets, TopoDNN inputs, split and scaling."""

from conservattack.data.io import write_json, write_parquet
from conservattack.data.preprocessing import SPLITS
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged
from conservattack.data.ttww import SAMPLES, describe, input_files, prepare_ttww, read_sample

with logged(snakemake):
    p = snakemake.params
    # the read chunk size is no param (it cannot change the jets)
    reader = {**p.reader, "step_size": snakemake.config["ttww"]["reader"]["step_size"]}
    frames, samples = {}, {}
    for name in SAMPLES:
        files = input_files(snakemake.input[name] if not isinstance(snakemake.input[name], str)
                            else [snakemake.input[name]])
        frames[name], info = read_sample(files, reader, p.constituents, p.max_jets[name])
        samples[name] = {**info, **describe(frames[name])}
        print(name, samples[name])
    prepared = prepare_ttww(frames, split=p.split, seed=p.seed)
    for name in SPLITS:
        write_parquet(prepared["splits"][name], snakemake.output[name])
    prepared["scaler"].save(snakemake.output.scaler)
    if prepared["constant_features"]:
        print(f"constant on the training split (unit range, frozen by the attack): {prepared['constant_features']}")
    print(prepared["counts"])
    write_json({"samples": samples, "features": prepared["features"], "constant_features": prepared["constant_features"],
                "counts": prepared["counts"],
                **provenance({"reader": p.reader, "constituents": p.constituents, "max_jets": p.max_jets,
                              "split": p.split, "seed": p.seed})}, snakemake.output.meta)
