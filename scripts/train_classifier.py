"""Rule train_classifier: train one run's classifier."""

import torch

from conservattack.data.io import read_parquet
from conservattack.models.mlp import TrainingConfig, save_model, train_classifier
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged
from conservattack.data.tables import LABEL, features_and_labels

with logged(snakemake):
    torch.set_num_threads(snakemake.threads)
    features = MinMaxScaler.load(snakemake.input.scaler).features
    cols = [*features, LABEL]
    X_train, y_train = features_and_labels(read_parquet(snakemake.input.train, cols), features)
    X_val, y_val = features_and_labels(read_parquet(snakemake.input.val, cols), features)
    config = TrainingConfig.from_config(snakemake.params.training)
    model, metrics = train_classifier(X_train, y_train, X_val, y_val, config, seed=snakemake.params.seed,
                                      shuffle_seed=snakemake.params.shuffle_seed, progress=True)
    print({k: v for k, v in metrics.items() if k != "history"})
    save_model(model, snakemake.output.model, {
        "features": list(features), "metrics": metrics,
        **provenance({"training": snakemake.params.training, "seed": snakemake.params.seed,
                      "shuffle_seed": snakemake.params.shuffle_seed}),
    })
