"""Rule train_detector: the run's adversarial detector, clean events (1) vs fooled adversaries (0)."""

import torch

from conservattack.studies.detection import detector_training_set
from conservattack.data.io import read_parquet
from conservattack.models.mlp import TrainingConfig, save_model, train_classifier
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged
from conservattack.data.tables import features_and_labels, split_adversaries

with logged(snakemake):
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    features = MinMaxScaler.load(snakemake.input.scaler).features
    inp = snakemake.input
    X_clean, _ = features_and_labels(read_parquet(inp.clean_train), features)
    _, X_adv, _, fooled = split_adversaries(read_parquet(inp.adv_train), features)
    X_tr, y_tr, w_tr = detector_training_set(X_clean, X_adv, fooled, inp.adv_train)
    X_clean, _ = features_and_labels(read_parquet(inp.clean_val), features)
    _, X_adv, _, fooled = split_adversaries(read_parquet(inp.adv_val), features)
    X_va, y_va, w_va = detector_training_set(X_clean, X_adv, fooled, inp.adv_val)
    print(f"training: {int(y_tr.sum())} clean, {int((y_tr == 0).sum())} fooled adversaries")
    model, metrics = train_classifier(X_tr, y_tr, X_va, y_va, TrainingConfig.from_config(p.training), seed=p.seed,
                                      weights_train=w_tr, weights_val=w_va, shuffle_seed=p.shuffle_seed,
                                      progress=True)
    print({k: v for k, v in metrics.items() if k != "history"})
    save_model(model, snakemake.output.model, {
        "features": list(features), "metrics": metrics, "n_clean": int(y_tr.sum()),
        "n_adversarial": int((y_tr == 0).sum()),
        **provenance({"training": p.training, "seed": p.seed, "shuffle_seed": p.shuffle_seed}),
    })
