"""Rule adversarial_training_retrain: the model of iteration k, trained from scratch (the base
model's seeds and training configuration) on the training set plus the fooled adversaries of
iterations 1..k."""

import torch

from conservattack.studies.adversarial_training import cumulative_training_set
from conservattack.data.io import read_parquet
from conservattack.models.mlp import TrainingConfig, save_model, train_classifier
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged
from conservattack.data.tables import LABEL, features_and_labels, split_adversaries

with logged(snakemake):
    torch.set_num_threads(snakemake.threads)
    p, inp = snakemake.params, snakemake.input
    features = MinMaxScaler.load(inp.scaler).features
    X, y = features_and_labels(read_parquet(inp.train, [*features, LABEL]), features)
    adversaries = [split_adversaries(read_parquet(f), features)[1:] for f in inp.adversaries]
    X_cum, y_cum, counts = cumulative_training_set(X, y, adversaries)
    X_val, y_val = features_and_labels(read_parquet(inp.val, [*features, LABEL]), features)
    print(f"{len(y)} clean + {sum(counts)} fooled adversaries (per iteration: {counts})")
    model, metrics = train_classifier(X_cum, y_cum, X_val, y_val, TrainingConfig.from_config(p.training),
                                      seed=p.seed, shuffle_seed=p.shuffle_seed, progress=True)
    save_model(model, snakemake.output.model, {
        "features": list(features), "metrics": metrics, "run": int(snakemake.wildcards.run),
        "iteration": int(snakemake.wildcards.iteration),
        "n_clean": len(y), "n_adversaries": sum(counts), "n_adversaries_per_iteration": counts,
        **provenance({"training": p.training, "seed": p.seed, "shuffle_seed": p.shuffle_seed}),
    })
