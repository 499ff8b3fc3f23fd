"""Rule disco_detector: study 9 detectors of one run and method on nested training fractions."""

import torch

from conservattack.studies.disco import limited_detector_study
from conservattack.data.io import read_parquet, write_json
from conservattack.models.mlp import TrainingConfig, save_model
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    torch.set_num_threads(snakemake.threads)
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    features = MinMaxScaler.load(inp.scaler).features
    model, sizes, metrics = limited_detector_study(
        read_parquet(inp.clean_train), read_parquet(inp.adv_train), read_parquet(inp.clean_test),
        read_parquet(inp.adv_test), features, p.fractions, p.validation_fraction,
        TrainingConfig.from_config(p.training), seed=p.seed, shuffle_seed=p.shuffle_seed)
    print(sizes.to_string())
    print(metrics)
    sizes.to_csv(out.sizes, index=False)
    save_model(model, out.model, {"features": list(features), **provenance(
        {"training": p.training, "seed": p.seed, "shuffle_seed": p.shuffle_seed, "fractions": p.fractions,
         "validation_fraction": p.validation_fraction})})
    write_json(metrics, out.meta)
