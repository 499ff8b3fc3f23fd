"""Rule augmentation_retrain: train from scratch on the reduced set plus its fooled adversaries."""

import numpy as np
import torch

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
    _, X_adv, y_adv, fooled = split_adversaries(read_parquet(inp.adversaries), features)
    X_aug, y_aug = np.vstack([X, X_adv[fooled]]), np.r_[y, y_adv[fooled]]  # adversaries keep their true labels
    X_val, y_val = features_and_labels(read_parquet(inp.val, [*features, LABEL]), features)
    print(f"{len(y)} clean + {int(fooled.sum())} fooled adversaries")
    model, metrics = train_classifier(X_aug, y_aug, X_val, y_val, TrainingConfig.from_config(p.training), seed=p.seed,
                                      shuffle_seed=p.shuffle_seed, progress=True)
    save_model(model, snakemake.output.model, {
        "features": list(features), "metrics": metrics, "n_clean": len(y), "n_adversaries": int(fooled.sum()),
        **provenance({"training": p.training, "seed": p.seed, "shuffle_seed": p.shuffle_seed}),
    })
