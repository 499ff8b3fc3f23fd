"""Rule augmentation_metrics: clean test AUROC of base and augmented models per run."""

import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from conservattack.attacks.inference import predict_proba
from conservattack.data.io import read_json, read_parquet
from conservattack.models.mlp import load_model
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.runlog import logged
from conservattack.data.tables import features_and_labels

with logged(snakemake):
    torch.set_num_threads(snakemake.threads)
    inp = snakemake.input
    features = MinMaxScaler.load(inp.scaler).features
    X, y = features_and_labels(read_parquet(inp.test), features)
    rows = []
    for r, (base, augmented, attack) in enumerate(zip(inp.base, inp.augmented, inp.attacks)):
        auc_base = roc_auc_score(y, predict_proba(load_model(base), X))
        auc_aug = roc_auc_score(y, predict_proba(load_model(augmented), X))
        meta = read_json(attack)
        rows.append({"run": r, "auroc_base": auc_base, "auroc_augmented": auc_aug, "auroc_gain": auc_aug - auc_base,
                     "augmentation_fooling_ratio": meta["final"]["fooling_ratio"], "n_attacked": meta["n_targeted"]})
    table = pd.DataFrame(rows)
    table.to_csv(snakemake.output[0], index=False)
    print(table.to_string())
